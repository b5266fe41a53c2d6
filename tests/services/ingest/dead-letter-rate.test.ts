import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

/**
 * A device that floods ingest with rejects, in a running platform (registry on PGlite, the API, self-metrics): it
 * files SUS_DEAD_LETTER_RATE dead letters, the rest are counted into one summary entry, and the list, the
 * self-metrics and /metrics all say how many.
 */
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(testConfig({ SUS_DEAD_LETTER_RATE: '3' }), silentLogger, { broker: true, api: true });
  await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
  await platform.registry.createDevice({
    id: 'aq-flood',
    name: 'flood',
    department: 'environment',
    type: 'air_quality',
  });
});

afterAll(async () => {
  await platform?.stop();
});

const api = async (path: string) =>
  (await fetch(`http://127.0.0.1:${platform.httpPort}${path}`, {
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
  }).then((r) => r.json())) as {
    deadLetters: Array<{ id: number; reasons: Array<{ code: string; message: string }> }>;
  };

describe('the dead-letter rate of one device', () => {
  it('files 3 of 20 rejects one by one and counts 17 in one entry that the list, self-metrics and /metrics show', async () => {
    const ingest = platform.ingest!;
    const ids = new Set<number | undefined>();
    for (let i = 0; i < 20; i++) {
      const r = await ingest.ingestor.handle({
        device: 'aq-flood',
        topic: 'sus/v1/devices/aq-flood/up',
        channel: 'up',
        payload: Buffer.from(`not json ${i}`),
        receivedAt: Date.now(),
        source: 'mqtt',
      });
      expect(r.rejected.map((x) => x.code)).toStrictEqual(['INGEST_MALFORMED_JSON']);
      ids.add(r.deadLetterId);
    }
    // Three entries of their own, and every later reject answered with the summary entry's id.
    expect(ids.size).toBe(4);
    expect(ingest.ingestor.stats).toMatchObject({ deadLetters: 3, deadLettersSuppressed: 17 });

    // The summary's count is brought up to date on the ingest timer; stopping ingest does it at once.
    const lines = await ingest.selfMetrics.tick();
    expect(lines[0]).toMatch(
      /^sus_ingest,node=\S+ messages=20i,readings=0i,dead_letters=3i,dead_letters_suppressed=17i,/,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${platform.httpPort}/metrics`)).text();
    expect(metrics).toContain('sus_ingest_dead_letters_suppressed_total 17');
    await ingest.ingestor.stop();

    const { deadLetters } = await api('/v1/dead-letters?device=aq-flood');
    expect(deadLetters.map((d) => d.reasons.map((r) => r.code))).toStrictEqual([
      ['INGEST_DEAD_LETTERS_SUPPRESSED'],
      ['INGEST_MALFORMED_JSON'],
      ['INGEST_MALFORMED_JSON'],
      ['INGEST_MALFORMED_JSON'],
    ]);
    expect(deadLetters[0]!.reasons[0]!.message).toMatch(
      /^17 rejected messages of 'aq-flood' from \S+ to \S+ are counted here, not filed one by one: more than 3 dead letters within 600 s \(SUS_DEAD_LETTER_RATE\); the payload is the first of them\. By reason: INGEST_MALFORMED_JSON ×17$/,
    );
    const [row] = await platform.registry.db.query<{ suppressed: number; payload: Uint8Array }>(
      'SELECT suppressed, payload FROM dead_letters WHERE id = $1',
      [deadLetters[0]!.id],
    );
    expect([row?.suppressed, Buffer.from(row!.payload).toString()]).toStrictEqual([17, 'not json 3']);
  });

  it('counts rejects naming unregistered devices by their source: made-up ids open no rate of their own', async () => {
    const ingest = platform.ingest!;
    const before = ingest.ingestor.stats.deadLetters;
    for (let i = 0; i < 30; i++) {
      await ingest.ingestor.handle({
        device: `ghost-${i}`,
        topic: '/v1/ingest/canonical',
        channel: 'up',
        payload: Buffer.from('{"values":{"pm10":1}}'),
        receivedAt: Date.now(),
        source: 'http',
      });
    }
    expect(ingest.ingestor.stats.deadLetters - before).toBe(3);
    const rows = await platform.registry.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM dead_letters WHERE source = 'http'",
    );
    expect(rows[0]!.n).toBe(4);
  });
});
