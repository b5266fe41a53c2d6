import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../../services/api/answer-cache.ts';
import { SharedAnswer } from '../../../services/api/etag.ts';

/** A cache whose builds are counted: each build answers `bytes` bytes named after its key and build number. */
function counted(bounds: { entries: number; bytes: number }, ttlMs = 0) {
  const cache = new AnswerCache(bounds, ttlMs);
  let n = 0;
  const get = async (
    key: string,
    opts: { version?: string; bytes?: number; versioned?: boolean; now?: number } = {},
  ) => {
    const answer = await cache.answer(
      key,
      opts.version ?? 'v1',
      async () => {
        n++;
        return {
          answer: new SharedAnswer('text/plain', Buffer.from(`${key}#${n}`.padEnd(opts.bytes ?? 10, '.'))),
          versioned: opts.versioned ?? true,
        };
      },
      opts.now,
    );
    return answer.body.toString().replace(/\.+$/, '');
  };
  return { cache, get, builds: () => n };
}

describe('answer cache (finished answers shared by requests)', () => {
  it('keeps at most its entries, the least recently used going first', async () => {
    const { cache, get } = counted({ entries: 2, bytes: 1000 });
    const answers = [await get('a'), await get('b'), await get('a'), await get('c'), await get('a'), await get('b')];
    expect([answers, cache.size]).toStrictEqual([
      ['a#1', 'b#2', 'a#1', 'c#3', 'a#1', 'b#4'],
      { entries: 2, bytes: 20 },
    ]);
  });

  it('keeps at most its bytes, and does not keep an answer larger than them alone', async () => {
    const { cache, get } = counted({ entries: 10, bytes: 100 });
    const answers = [await get('a', { bytes: 60 }), await get('b', { bytes: 60 }), await get('a', { bytes: 60 })];
    const big = [await get('big', { bytes: 150 }), await get('big', { bytes: 150 })];
    expect([answers, big, cache.size]).toStrictEqual([
      ['a#1', 'b#2', 'a#3'],
      ['big#4', 'big#5'],
      { entries: 0, bytes: 0 },
    ]);
  });

  it('builds anew for another version, after a failed build, and past the time of an answer not tied to a version', async () => {
    const { cache, get } = counted({ entries: 10, bytes: 1000 }, 1000);
    const versions = [await get('a'), await get('a', { version: 'v2' }), await get('a', { version: 'v2' })];
    await expect(
      cache.answer('f', 'v1', async () => {
        throw new Error('InfluxDB down');
      }),
    ).rejects.toThrow('InfluxDB down');
    const afterFailure = await get('f');
    const t = Date.now();
    const timed = [
      await get('t', { versioned: false, now: t }),
      await get('t', { versioned: false, now: t + 500 }),
      await get('t', { versioned: false, now: t + 5000 }),
    ];
    expect([versions, afterFailure, timed]).toStrictEqual([['a#1', 'a#2', 'a#2'], 'f#3', ['t#4', 't#4', 't#5']]);
  });

  it('gives the requests that arrive during a build the answer of that one build', async () => {
    const { get, builds } = counted({ entries: 10, bytes: 1000 });
    const answers = await Promise.all([get('a'), get('a'), get('a')]);
    expect([answers, builds()]).toStrictEqual([['a#1', 'a#1', 'a#1'], 1]);
  });
});
