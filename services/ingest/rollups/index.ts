import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { catalogue } from '../../common/catalogue.ts';
import type { Config } from '../../common/config.ts';
import type { InfluxQuery } from '../../common/influx.ts';
import { fieldSet, floatValue, intValue, type LineSink, pointLine, tagSet } from '../../common/line-protocol.ts';
import type { Logger } from '../../common/logger.ts';
import type { MetricsRegistry } from '../../common/metrics.ts';
import { DAY_MS, ROLLUP } from '../../common/rollups.ts';
import { SELF_METRICS } from '../../common/self-metrics.ts';
import { DeviceTypeStore, type Registry } from '../../registry/index.ts';
import type { SpoolDrainer } from '../writer.ts';
import { InfluxLineSender } from '../writer.ts';
import { AirQualityPublisher } from './air-quality.ts';
import { DirtyRecorder } from './dirty.ts';
import { RollupEngine } from './engine.ts';
import { RetentionPolicies } from './retention.ts';

export { lateWindows } from './dirty.ts';
export { RollupEngine } from './engine.ts';
export { RetentionPolicies } from './retention.ts';

/** What the rollup service needs of ingest: its writer (dirty windows), its spool (self-metrics) and late hints. */
export interface RollupIngest {
  writer: Pick<SpoolDrainer, 'onDelivered'>;
  spool: LineSink;
  ingestor: { readonly lastLateAt: number };
}

export interface RollupService {
  engine: RollupEngine;
  recorder: DirtyRecorder;
  retention: RetentionPolicies;
  /** Attaches to ingest's writer (before ingest starts, so batches recovered from the spool are looked into). */
  start(): void;
  stop(): Promise<void>;
  /** One pass now (after the one running, if any): tests and `sus` tooling; `now` moves the clock (tests). */
  runOnce(now?: number): Promise<void>;
  /** The `sus_rollup` self-metric line of the interval since the last call. */
  selfMetricLine(now?: number): Promise<string>;
}

/**
 * Layer 2's evaluation service: the rollups (engine.ts), the dirty windows of late readings (dirty.ts), the
 * retention policies (retention.ts), the air-quality report for dashboards (air-quality.ts) and the rollup
 * self-metrics. Runs where the broker and ingest run.
 */
export function createRollupService(
  config: Config,
  registry: Registry,
  ingest: RollupIngest,
  influx: InfluxQuery,
  log: Logger,
  metrics?: MetricsRegistry,
  /**
   * Cluster mode: whether this node holds the elected duties. The passes (catch-up, recomputation, retention, the
   * air-quality report) run only there; every node still marks the windows its own late readings made stale.
   */
  leading?: () => boolean,
): RollupService {
  const rlog = log.child({ component: 'rollups' });
  const days = (n: number) => n * DAY_MS;
  const daily = new InfluxLineSender(config, ROLLUP['1d'].policy);
  const engine = new RollupEngine({
    influx,
    senders: {
      '1h': new InfluxLineSender(config, ROLLUP['1h'].policy),
      '1d': daily,
    },
    store: registry.rollups,
    log: rlog,
    options: {
      measurements: catalogue.names(),
      settleMs: config.SUS_ROLLUP_SETTLE_S * 1000,
      rawRetentionMs: days(config.SUS_RAW_RETENTION_DAYS),
      hourlyRetentionMs: days(config.SUS_HOURLY_RETENTION_DAYS),
      writeBatch: config.SUS_WRITE_BATCH_SIZE,
    },
  });
  const recorder = new DirtyRecorder(
    registry.rollups,
    ingest.ingestor,
    {
      settleMs: config.SUS_ROLLUP_SETTLE_S * 1000,
      measurements: new Set(catalogue.names()),
      maxPending: 100_000,
    },
    rlog,
  );
  const retention = new RetentionPolicies(
    influx,
    config.INFLUX_DB,
    { raw: config.SUS_RAW_RETENTION_DAYS, hourly: config.SUS_HOURLY_RETENTION_DAYS, daily: 0 },
    rlog,
  );
  const airQuality = new AirQualityPublisher({
    influx,
    registry,
    types: new DeviceTypeStore(registry.db),
    sender: daily,
    defaultIntervalS: config.SUS_DEFAULT_INTERVAL_S,
    writeBatch: config.SUS_WRITE_BATCH_SIZE,
    log: rlog,
  });
  const node = hostname();
  const names: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let metricsTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let failing = false;
  let last = { at: Date.now(), points: 0 };

  const pass = async (now?: number) => {
    try {
      await retention.apply(engine.progress['1h']?.doneUntil);
      await engine.runOnce(now);
      await retention.apply(engine.progress['1h']?.doneUntil);
      // Not while stopping: a report of a whole fleet would hold up the shutdown.
      if (!stopped) await airQuality.afterPass(engine.progress['1h']?.doneUntil);
      if (failing) rlog.info('rollups run again');
      failing = false;
    } catch (err) {
      if (!failing) rlog.warn({ err: (err as Error).message }, 'rollup pass failed; retried with the next one');
      failing = true;
    }
  };
  const runOnce = async (now?: number): Promise<void> => {
    while (running) await running;
    running = pass(now).finally(() => {
      running = undefined;
    });
    await running;
  };
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      // Not the lease holder: asked again each second, so the passes move within seconds when their node dies.
      if (leading && !leading()) schedule(Math.min(1000, config.SUS_ROLLUP_INTERVAL_S * 1000));
      else void runOnce().then(() => schedule(config.SUS_ROLLUP_INTERVAL_S * 1000));
    }, delayMs);
    timer.unref();
  };

  const service: RollupService = {
    engine,
    recorder,
    retention,
    start() {
      stopped = false;
      engine.resume();
      ingest.writer.onDelivered = recorder.onDelivered;
      schedule(0);
      if (metrics) register(metrics);
      metricsTimer = setInterval(() => {
        void service
          .selfMetricLine()
          .then((line) => ingest.spool.append([line]))
          .catch((err: Error) => rlog.warn({ err: err.message }, 'rollup self-metrics not written'));
      }, config.SUS_SELF_METRICS_INTERVAL_S * 1000);
      metricsTimer.unref();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(metricsTimer);
      engine.halt();
      while (running) await running;
      ingest.writer.onDelivered = undefined;
      await recorder.flush();
      for (const name of names.splice(0)) metrics?.removeSingleMetric(name);
    },
    runOnce,
    async selfMetricLine(now = Date.now()) {
      const dirty = await registry.rollups.dirtyCount().catch(() => 0);
      const done = engine.progress['1h']?.doneUntil;
      const points = engine.stats.points - last.points;
      const seconds = Math.max(0.001, (now - last.at) / 1000);
      last = { at: now, points: engine.stats.points };
      const lag = done === undefined ? 0 : Math.max(0, (now - done) / 1000);
      return pointLine(
        SELF_METRICS.rollup,
        tagSet({ node }),
        fieldSet({
          windows_behind: intValue(engine.behind(now)),
          lag_s: floatValue(Math.round(lag)),
          dirty: intValue(dirty),
          points: intValue(points),
          points_per_s: floatValue(Math.round((points / seconds) * 10) / 10),
        }),
        now,
      );
    },
  };

  function register(prom: MetricsRegistry) {
    const gauge = (name: string, help: string, value: () => number | Promise<number>) => {
      names.push(name);
      new Gauge({
        name,
        help,
        registers: [prom],
        async collect() {
          this.set(await value());
        },
      });
    };
    gauge('sus_rollup_windows_behind', 'Closed hours not rolled up yet', () => engine.behind());
    gauge('sus_rollup_lag_seconds', 'Age of the end of the newest hourly rollup', () => {
      const done = engine.progress['1h']?.doneUntil;
      return done === undefined ? 0 : Math.max(0, (Date.now() - done) / 1000);
    });
    gauge('sus_rollup_dirty_windows', 'Hours waiting for recomputation after late readings', () =>
      registry.rollups.dirtyCount().catch(() => 0),
    );
    names.push('sus_rollup_points_total');
    new Counter({
      name: 'sus_rollup_points_total',
      help: 'Rollup points written',
      registers: [prom],
      collect() {
        this.reset();
        this.inc(engine.stats.points);
      },
    });
  }

  return service;
}
