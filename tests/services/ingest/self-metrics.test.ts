import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { type SelfMetricsSample, selfMetricLines } from '../../../services/ingest/self-metrics.ts';
import { testConfig } from '../../helpers/env.ts';

const sample = (over: Partial<SelfMetricsSample> = {}): SelfMetricsSample => ({
  ingest: { messages: 0, readings: 0, deadLetters: 0, deadLettersSuppressed: 0, timeAdjusted: 0, rejectedByReason: {} },
  writes: { written: 0, batches: 0, failures: 0, refused: 0 },
  latencies: [],
  spool: { depth: 0, bytes: 0, oldestAgeS: 0 },
  ...over,
});

describe('ingest self-metrics', () => {
  it('turns two samples into the interval points of sus_ingest, sus_ingest_rejects, sus_spool and sus_writes', () => {
    const prev = sample({
      ingest: {
        messages: 10,
        readings: 30,
        deadLetters: 1,
        deadLettersSuppressed: 5,
        timeAdjusted: 0,
        rejectedByReason: { INGEST_X: 1 },
      },
      writes: { written: 30, batches: 1, failures: 0, refused: 1 },
    });
    const cur = sample({
      ingest: {
        messages: 25,
        readings: 70,
        deadLetters: 3,
        deadLettersSuppressed: 12,
        timeAdjusted: 2,
        rejectedByReason: { INGEST_X: 2, 'INGEST_OUT OF,RANGE': 1, INGEST_Y: 1 },
      },
      writes: { written: 60, batches: 3, failures: 4, refused: 3 },
      latencies: [30, 10, 20, 40],
      spool: { depth: 10, bytes: 1234, oldestAgeS: 1.5 },
    });
    expect(selfMetricLines('node 1', prev, cur, 1764000000000)).toStrictEqual([
      'sus_ingest,node=node\\ 1 messages=15i,readings=40i,dead_letters=2i,dead_letters_suppressed=7i,time_adjusted=2i 1764000000000',
      'sus_ingest_rejects,node=node\\ 1,reason=INGEST_OUT\\ OF\\,RANGE count=1i 1764000000000',
      'sus_ingest_rejects,node=node\\ 1,reason=INGEST_X count=1i 1764000000000',
      'sus_ingest_rejects,node=node\\ 1,reason=INGEST_Y count=1i 1764000000000',
      'sus_spool,node=node\\ 1 depth=10i,bytes=1234i,oldest_age_s=1.5 1764000000000',
      'sus_writes,node=node\\ 1 batches=2i,failures=4i,written=30i,refused=2i,latency_ms_p50=20.0,latency_ms_p99=40.0 1764000000000',
    ]);
  });

  describe('in a running platform', () => {
    let platform: Platform;
    beforeAll(async () => {
      platform = await startPlatform(testConfig(), silentLogger, { broker: true, api: true });
      await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
      await platform.registry.createDevice({
        id: 'aq-metrics-1',
        name: 'metrics',
        department: 'environment',
        type: 'air_quality',
      });
    });
    afterAll(async () => {
      await platform?.stop();
    });

    it('serves the pipeline counters on /metrics and writes them into InfluxDB measurement sus_ingest', async () => {
      const ingest = platform.ingest!;
      const time = Date.now() - 1000;
      for (const payload of [`{"time":${time},"values":{"air_temperature":20,"pm10":5}}`, 'not json']) {
        await ingest.ingestor.handle({
          device: 'aq-metrics-1',
          topic: 'sus/v1/devices/aq-metrics-1/up',
          channel: 'up',
          payload: Buffer.from(payload),
          receivedAt: Date.now(),
          source: 'mqtt',
        });
      }
      await ingest.writer.flush();
      const text = await (await fetch(`http://127.0.0.1:${platform.httpPort}/metrics`)).text();
      const values = Object.fromEntries(
        text
          .split('\n')
          .filter((l) => /^sus_(ingest|spool)_/.test(l))
          .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
      );
      expect(values).toMatchObject({
        sus_ingest_messages_total: 2,
        sus_ingest_readings_total: 2,
        sus_ingest_dead_letters_total: 1,
        'sus_ingest_rejects_total{reason="INGEST_MALFORMED_JSON"}': 1,
        sus_ingest_written_total: 2,
        sus_ingest_write_batches_total: 1,
        sus_ingest_write_failures_total: 0,
        sus_spool_depth: 0,
        sus_spool_bytes: 0,
        sus_spool_max_bytes: 1024 * 1024 * 1024,
        sus_spool_oldest_age_seconds: 0,
        sus_ingest_write_latency_seconds_count: 1,
      });

      await ingest.selfMetrics.tick();
      await ingest.writer.flush();
      const [[series] = []] = await platform.influx.query(
        'SELECT "messages","readings","dead_letters","time_adjusted" FROM "sus_ingest"',
      );
      expect(series?.values.map((v) => v.slice(1))).toStrictEqual([[2, 2, 1, 0]]);
      const [[rejects] = []] = await platform.influx.query(
        'SELECT "count" FROM "sus_ingest_rejects" GROUP BY "reason"',
      );
      expect(rejects?.tags).toStrictEqual({ reason: 'INGEST_MALFORMED_JSON' });
      expect(rejects?.values.map((v) => v[1])).toStrictEqual([1]);
    });
  });
});
