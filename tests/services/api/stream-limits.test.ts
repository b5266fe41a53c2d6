import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { type Harness, startHarness } from './harness.ts';

describe('live streams: at most SUS_STREAM_MAX_PER_KEY per key and SUS_STREAM_MAX_CONNECTIONS per process', () => {
  let h: Harness;
  const open: AbortController[] = [];
  beforeAll(async () => {
    h = await startHarness({ SUS_STREAM_MAX_PER_KEY: '2', SUS_STREAM_MAX_CONNECTIONS: '3' }, true);
  });
  afterAll(async () => {
    for (const c of open) c.abort();
    await h?.stop();
  });

  const keyOf = async (name: string) =>
    (await h.admin<{ key: string }>('POST', '/v1/keys', { name, department: 'environment', scopes: ['read'] })).body
      .key;
  /** Opens a stream and keeps it open; returns its status (and the problem code when refused). */
  const stream = async (key: string) => {
    const abort = new AbortController();
    const res = await fetch(`${h.base}/v1/stream`, {
      headers: { authorization: `Bearer ${key}` },
      signal: abort.signal,
    });
    if (res.status === 200) open.push(abort);
    const code = res.status === 200 ? undefined : ((await res.json()) as { code: string }).code;
    return { status: res.status, code, close: () => abort.abort() };
  };

  it('answers 429 SUS_ERR_STREAM_LIMIT beyond the limit per key and in total, and frees a place when a stream ends', async () => {
    const [a, b, c] = [await keyOf('a'), await keyOf('b'), await keyOf('c')];
    const a1 = await stream(a);
    const a2 = await stream(a);
    const a3 = await stream(a);
    expect([a1.status, a2.status, a3.status, a3.code]).toStrictEqual([200, 200, 429, 'SUS_ERR_STREAM_LIMIT']);
    const b1 = await stream(b);
    expect(b1.status).toBe(200);
    // Three streams are open: the process's limit, whatever the key.
    const c1 = await stream(c);
    expect([c1.status, c1.code]).toStrictEqual([429, 'SUS_ERR_STREAM_LIMIT']);
    a1.close();
    const again = await eventually(
      () => stream(c),
      (r) => r.status === 200,
    );
    expect(again.status).toBe(200);
  });
});
