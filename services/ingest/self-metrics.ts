import { Counter, Gauge, Histogram } from 'prom-client';
import { fieldSet, floatValue, intValue, pointLine, tagSet } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import { SELF_METRICS } from '../common/self-metrics.ts';
import type { Spool } from './spool/spool.ts';
import type { SpoolDrainer } from './writer.ts';

/** The ingest counters self-metrics read (the Ingestor's `stats`). Totals since start. */
export interface IngestCounters {
  messages: number;
  readings: number;
  deadLetters: number;
  deadLettersSuppressed: number;
  timeAdjusted: number;
  rejectedByReason: Record<string, number>;
}

export interface WriteCounters {
  written: number;
  batches: number;
  failures: number;
  /** Lines InfluxDB refused on their own (dead-lettered). */
  refused: number;
}

export interface SelfMetricsSample {
  ingest: IngestCounters;
  writes: WriteCounters;
  /** Latencies (ms) of the writes acknowledged within the interval. */
  latencies: number[];
  spool: { depth: number; bytes: number; oldestAgeS: number };
}

/** Nearest-rank percentile; 0 for no samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The interval's points of `services/common/self-metrics.ts` as line protocol: counters as deltas since the previous
 * sample (integers), spool depth and age as they are now. Pure, so the exact lines are unit-tested.
 */
export function selfMetricLines(node: string, prev: SelfMetricsSample, cur: SelfMetricsSample, now: number): string[] {
  const tags = tagSet({ node });
  const d = (a: number, b: number) => intValue(Math.max(0, a - b));
  const lines = [
    pointLine(
      SELF_METRICS.ingest,
      tags,
      fieldSet({
        messages: d(cur.ingest.messages, prev.ingest.messages),
        readings: d(cur.ingest.readings, prev.ingest.readings),
        dead_letters: d(cur.ingest.deadLetters, prev.ingest.deadLetters),
        dead_letters_suppressed: d(cur.ingest.deadLettersSuppressed, prev.ingest.deadLettersSuppressed),
        time_adjusted: d(cur.ingest.timeAdjusted, prev.ingest.timeAdjusted),
      }),
      now,
    ),
  ];
  for (const [code, total] of Object.entries(cur.ingest.rejectedByReason).sort(([a], [b]) => a.localeCompare(b))) {
    const delta = total - (prev.ingest.rejectedByReason[code] ?? 0);
    if (delta > 0) {
      lines.push(
        pointLine(SELF_METRICS.ingestRejects, tagSet({ node, reason: code }), `count=${intValue(delta)}`, now),
      );
    }
  }
  lines.push(
    pointLine(
      SELF_METRICS.spool,
      tags,
      fieldSet({
        depth: intValue(cur.spool.depth),
        bytes: intValue(cur.spool.bytes),
        oldest_age_s: floatValue(round(cur.spool.oldestAgeS)),
      }),
      now,
    ),
  );
  const sorted = [...cur.latencies].sort((a, b) => a - b);
  const writes: Record<string, string> = {
    batches: d(cur.writes.batches, prev.writes.batches),
    failures: d(cur.writes.failures, prev.writes.failures),
    written: d(cur.writes.written, prev.writes.written),
    refused: d(cur.writes.refused, prev.writes.refused),
  };
  if (sorted.length > 0) {
    writes.latency_ms_p50 = floatValue(round(percentile(sorted, 50)));
    writes.latency_ms_p99 = floatValue(round(percentile(sorted, 99)));
  }
  lines.push(pointLine(SELF_METRICS.writes, tags, fieldSet(writes), now));
  return lines;
}

/**
 * Ingest health on `/metrics` (Prometheus, read at scrape time from the counters the pipeline keeps anyway, so the
 * hot path pays nothing) and every interval as points into InfluxDB — through the spool, like readings.
 */
export class IngestSelfMetrics {
  private timer: NodeJS.Timeout | undefined;
  private prev: SelfMetricsSample | undefined;
  private latencies: number[] = [];
  private readonly names: string[] = [];

  constructor(
    private readonly deps: {
      ingest: { stats: IngestCounters };
      drainer: SpoolDrainer;
      spool: Spool;
      metrics?: MetricsRegistry;
      node: string;
      intervalMs: number;
      log: Logger;
    },
  ) {}

  start(): void {
    const { drainer, metrics } = this.deps;
    const histogram = metrics ? this.register(metrics) : undefined;
    drainer.onWrite = (ms) => {
      this.latencies.push(ms);
      histogram?.observe(ms / 1000);
    };
    this.prev = this.counters([], 0, 0);
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.deps.drainer.onWrite = undefined;
    for (const name of this.names.splice(0)) this.deps.metrics?.removeSingleMetric(name);
  }

  /** Appends the interval's points to the spool (also called by tests instead of waiting for the timer). */
  async tick(): Promise<string[]> {
    const { spool, log } = this.deps;
    const now = Date.now();
    const oldest = await spool.oldestAppendedAt().catch(() => undefined);
    const cur = this.counters(this.latencies.splice(0), spool.depth, oldest === undefined ? 0 : (now - oldest) / 1000);
    const lines = selfMetricLines(this.deps.node, this.prev ?? cur, cur, now);
    this.prev = cur;
    await spool.append(lines).catch((err: Error) => log.warn({ err: err.message }, 'self-metrics not spooled'));
    return lines;
  }

  private counters(latencies: number[], depth: number, oldestAgeS: number): SelfMetricsSample {
    const s = this.deps.ingest.stats;
    const w = this.deps.drainer.stats;
    return {
      ingest: {
        messages: s.messages,
        readings: s.readings,
        deadLetters: s.deadLetters,
        deadLettersSuppressed: s.deadLettersSuppressed,
        timeAdjusted: s.timeAdjusted,
        rejectedByReason: { ...s.rejectedByReason },
      },
      writes: { written: w.written, batches: w.batches, failures: w.failures, refused: w.refused },
      latencies,
      spool: { depth, bytes: this.deps.spool.bytes, oldestAgeS },
    };
  }

  private register(registry: MetricsRegistry): Histogram {
    const { ingest, drainer, spool } = this.deps;
    const counter = (name: string, help: string, value: () => number) => {
      this.names.push(name);
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    };
    const gauge = (name: string, help: string, value: () => number | Promise<number>) => {
      this.names.push(name);
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          this.set(await value());
        },
      });
    };
    counter('sus_ingest_messages_total', 'Messages received by ingest', () => ingest.stats.messages);
    counter('sus_ingest_readings_total', 'Readings accepted (spooled for InfluxDB)', () => ingest.stats.readings);
    counter('sus_ingest_dead_letters_total', 'Messages put into the dead-letter store', () => ingest.stats.deadLetters);
    counter(
      'sus_ingest_dead_letters_suppressed_total',
      "Rejected messages beyond their device's dead-letter rate, counted in summary entries",
      () => ingest.stats.deadLettersSuppressed,
    );
    counter(
      'sus_ingest_time_adjusted_total',
      'Messages whose device time was replaced',
      () => ingest.stats.timeAdjusted,
    );
    counter('sus_ingest_written_total', 'Readings InfluxDB acknowledged', () => drainer.stats.written);
    counter('sus_ingest_write_batches_total', 'Batches InfluxDB acknowledged', () => drainer.stats.batches);
    counter(
      'sus_ingest_write_failures_total',
      'Failed InfluxDB write attempts (retried)',
      () => drainer.stats.failures,
    );
    counter('sus_ingest_write_refused_total', 'Lines InfluxDB refused (dead-lettered)', () => drainer.stats.refused);
    this.names.push('sus_ingest_rejects_total');
    new Counter({
      name: 'sus_ingest_rejects_total',
      help: 'Rejected messages or readings by reason code',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(ingest.stats.rejectedByReason)) this.inc({ reason }, n);
      },
    });
    gauge('sus_spool_depth', 'Readings waiting in the durable spool', () => spool.depth);
    gauge('sus_spool_bytes', 'Bytes waiting in the durable spool', () => spool.bytes);
    gauge('sus_spool_max_bytes', 'Spool limit (SUS_SPOOL_MAX_BYTES)', () => spool.maxBytes);
    gauge('sus_spool_oldest_age_seconds', 'Age of the oldest reading waiting in the spool', async () => {
      const oldest = await spool.oldestAppendedAt().catch(() => undefined);
      return oldest === undefined ? 0 : (Date.now() - oldest) / 1000;
    });
    this.names.push('sus_ingest_write_latency_seconds');
    return new Histogram({
      name: 'sus_ingest_write_latency_seconds',
      help: 'Latency of acknowledged InfluxDB writes',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }
}
