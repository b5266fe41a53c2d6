/**
 * One run of load through a pipeline, shared by bench:ingest and bench:alerts: the load generator in its own process
 * (ingest-load.ts), a `sus broker` node as a child process (its CPU and RSS its own), and the measurement until every
 * reading is in InfluxDB.
 */
import { fork, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { canConnect, freePort } from '../helpers/net.ts';
import type { LoadRequest, LoadResult } from './ingest-load.ts';
import { procStats } from './proc-stats.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** What the load generator sends: everything of its request but the port and the devices. */
export type LoadSpec = Omit<LoadRequest, 'port' | 'devices'>;

/** The environment of a bench's `sus broker` node: its data directory, embedded registry, loopback MQTT. */
export function nodeEnv(dataDir: string, adminKey: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // No INFLUX_URL here: unset, the config derives it from SUS_INFLUX_PORT, as for the local stack.
    INFLUX_API: process.env.INFLUX_API ?? 'v1',
    SUS_DATA_DIR: dataDir,
    DATABASE_URL: '',
    SUS_MQTT_HOST: '127.0.0.1',
    SUS_MQTT_PORT: '0',
    SUS_ADMIN_KEY: adminKey,
    LOG_LEVEL: 'warn',
    SUS_SELF_METRICS_INTERVAL_S: '3600',
  };
}

export interface RunResult {
  msgsPerS: number;
  readingsPerS: number;
  pubackMs: { p50: number; p99: number };
  writtenMs: { p50: number; p99: number };
  lost: number;
  cpuS: number;
  peerCpuS: number;
  /** CPU seconds of the load generator and of influxd (when its pid is known) over the same run. */
  genCpuS: number;
  influxCpuS: number;
  rssMb: number;
  peerRssMb: number;
  /** The generator's own record: publish times, PUBACK order, the moments of its value flips. */
  load: LoadResult;
}

export const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
export const r1 = (n: number) => Math.round(n * 10) / 10;

/** The local stack's influxd (infra/stack.sh writes its pid file under SUS_DATA_DIR); undefined for an external one. */
function influxdPid(): number | undefined {
  try {
    const dataDir = path.resolve(ROOT, process.env.SUS_DATA_DIR ?? 'var');
    const pid = Number(readFileSync(path.join(dataDir, 'influxdb/influxd.pid'), 'utf8').trim());
    return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Points InfluxDB has written into the bench database so far, from its own shard counters (`writePointsOk`): a
 * cheap progress probe. Counting the stored readings instead (`SELECT count(…)`) scans every point: at 800,000
 * points one such query cost InfluxDB ~240 ms of CPU, and polled every 100 ms it took up to a core of this
 * 2-core machine from the pipeline under test. The counters include the few non-reading points of a run (presence,
 * self-metrics), so the exact count is taken once, at the end.
 */
async function writtenPoints(influx: InfluxQuery, db: string): Promise<number> {
  const [series = []] = await influx.query("SHOW STATS FOR 'shard'");
  let n = 0;
  for (const s of series) {
    if (s.tags?.database !== db) continue;
    const at = s.columns.indexOf('writePointsOk');
    n += Number(s.values[0]?.[at] ?? 0);
  }
  return n;
}

async function storedReadings(influx: InfluxQuery, quantities: readonly string[]): Promise<number> {
  const [series = []] = await influx.query(`SELECT count("value") FROM ${quantities.map((q) => `"${q}"`).join(',')}`);
  return series.reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0);
}

export const now = () => performance.timeOrigin + performance.now();

/** Forks the load generator, waits until its devices are connected; the promise it returns ends with the run. */
export async function startGenerator(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
  spec: LoadSpec,
): Promise<{ done: Promise<LoadResult> }> {
  const gen = fork(path.join(import.meta.dirname, 'ingest-load.ts'), [], {
    execArgv: ['--max-semi-space-size=64', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages = new Promise<LoadResult>((resolve, reject) => {
    gen.on('message', (m: { type: string }) => {
      if (m.type === 'done') resolve(m as LoadResult);
    });
    gen.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  const connected = new Promise<void>((resolve) => {
    gen.on('message', (m: { type: string }) => {
      if (m.type === 'connected') resolve();
    });
  });
  const request: LoadRequest = { port: mqttPort, devices, ...spec };
  gen.send(request);
  await Promise.race([connected, messages]);
  // Wrapped: an async function returning the bare promise would make `await` wait for the whole run.
  return { done: messages };
}

/**
 * The floor under both pipelines: the same broker acknowledging every message with no ingest behind it. Its CPU per
 * message is what the MQTT side costs; whatever SUS spends above it is the pipeline itself.
 */
export interface BrokerOnlyResult {
  msgsPerS: number;
  cpuS: number;
  genCpuS: number;
}

export async function runBrokerOnly(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
  spec: LoadSpec,
): Promise<BrokerOnlyResult> {
  const run = await startGenerator(mqttPort, devices, spec);
  const cpu0 = process.cpuUsage();
  const load = await run.done;
  const cpu = process.cpuUsage(cpu0);
  let lastAck = load.start;
  for (let k = 0; k < load.ackOrder.length; k++) {
    lastAck = Math.max(lastAck, load.published[load.ackOrder[k]!]! + load.pubackMs[k]!);
  }
  return {
    msgsPerS: load.ackOrder.length / ((lastAck - load.start) / 1000),
    cpuS: (cpu.user + cpu.system) / 1e6,
    genCpuS: load.cpuS,
  };
}

/**
 * Runs the load generator process and measures until every reading is stored (or progress stalls for 15 s). CPU and
 * RSS are those of this process (the pipeline under test: broker [+ SUS ingest]) and of the peer (Node-RED).
 */
export async function runLoad(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
  influx: InfluxQuery,
  db: string,
  spec: LoadSpec,
  pids: { pipeline?: number; peer?: number } = {},
): Promise<RunResult> {
  const { pipeline: pipelinePid, peer: peerPid } = pids;
  // The pipeline's CPU and RSS: another process (`sus broker`) when its pid is given, else this one.
  const ownCpuS = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const pipelineCpuS = () => (pipelinePid ? procStats(pipelinePid).cpuS : ownCpuS());
  const pipelineRssMb = () => (pipelinePid ? procStats(pipelinePid).rssMb : process.memoryUsage().rss / 2 ** 20);
  const run = await startGenerator(mqttPort, devices, spec);

  const marks: Array<[number, number]> = [];
  let rssMb = 0;
  let peerRssMb = 0;
  const peerCpu0 = peerPid ? procStats(peerPid).cpuS : 0;
  const influxPid = influxdPid();
  const influxCpu0 = influxPid ? procStats(influxPid).cpuS : 0;
  const cpu0 = pipelineCpuS();
  const expected = spec.messages * spec.quantities.length;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const n = await writtenPoints(influx, db).catch(() => marks.at(-1)?.[1] ?? 0);
      marks.push([now(), n]);
      rssMb = Math.max(rssMb, pipelineRssMb());
      if (peerPid) peerRssMb = Math.max(peerRssMb, procStats(peerPid).rssMb);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const load = await run.done;
  let lastChange = now();
  let last = -1;
  while (now() - lastChange < 15_000) {
    const n = marks.at(-1)?.[1] ?? 0;
    // The counters run ahead of the readings by the run's few other points: confirm with the exact count.
    if (n >= expected && (await storedReadings(influx, spec.quantities)) >= expected) break;
    if (n !== last) {
      last = n;
      lastChange = now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  polling = false;
  await poller;
  const cpuS = pipelineCpuS() - cpu0;
  const peerCpuS = peerPid ? procStats(peerPid).cpuS - peerCpu0 : 0;
  const influxCpuS = influxPid ? procStats(influxPid).cpuS - influxCpu0 : Number.NaN;

  // Exact, once: the shard counters also count the run's few non-reading points (presence, self-metrics; dozens
  // against 800,000), so the moments below may come that many points early.
  const final = await storedReadings(influx, spec.quantities);
  const doneAt = marks.find(([, n]) => n >= final)?.[0] ?? now();
  const writtenMs: number[] = [];
  let m = 0;
  for (let r = 0; r < load.ackOrder.length; r++) {
    const need = (r + 1) * spec.quantities.length;
    while (m < marks.length && marks[m]![1] < need) m++;
    if (m === marks.length) break;
    writtenMs.push(marks[m]![0] - load.published[load.ackOrder[r]!]!);
  }
  const pubackMs = [...load.pubackMs].sort((a, b) => a - b);
  writtenMs.sort((a, b) => a - b);
  const seconds = (doneAt - load.start) / 1000;
  return {
    msgsPerS: final / spec.quantities.length / seconds,
    readingsPerS: final / seconds,
    pubackMs: { p50: pct(pubackMs, 50), p99: pct(pubackMs, 99) },
    writtenMs: { p50: pct(writtenMs, 50), p99: pct(writtenMs, 99) },
    lost: expected - final,
    cpuS,
    peerCpuS,
    genCpuS: load.cpuS,
    influxCpuS,
    rssMb,
    peerRssMb,
    load,
  };
}

export async function freshDb(config: Config): Promise<InfluxQuery> {
  const influx = new InfluxQuery(config);
  await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => {});
  await influx.ensureDatabase();
  return influx;
}

/** Registers the bench devices once; every round's platform and broker open the same registry. */
export async function seedDevices(config: Config, count: number): Promise<Array<{ id: string; secret: string }>> {
  const registry = await openRegistry(config);
  try {
    await registry.createDepartment({ id: 'environment', name: 'Environment' });
    const devices: Array<{ id: string; secret: string }> = [];
    for (let d = 0; d < count; d++) {
      const { device, secret } = await registry.createDevice({
        id: `bench-${d}`,
        name: `bench ${d}`,
        department: 'environment',
        type: 'air_quality',
      });
      devices.push({ id: device.id, secret });
    }
    return devices;
  } finally {
    await registry.close();
  }
}

/**
 * One SUS run: the shipped `sus broker` (broker + in-process ingest + spool, with the V8 flags of bin/sus.mjs) as a
 * fresh child process against an empty database, so every round starts alike and its CPU and RSS are its own.
 */
export async function susRound(
  env: NodeJS.ProcessEnv,
  config: Config,
  devices: Array<{ id: string; secret: string }>,
  spec: LoadSpec,
): Promise<RunResult> {
  const influx = await freshDb(config);
  const port = await freePort();
  // LOG_LEVEL warn as in production-like runs; readiness is the MQTT port accepting connections.
  // BENCH_CPU_PROF=<dir>: the SUS process writes a V8 CPU profile there (bin flags repeated, as node runs the bin).
  const prof = process.env.BENCH_CPU_PROF;
  const [cmd, args] = prof
    ? [process.execPath, ['--max-semi-space-size=64', '--cpu-prof', `--cpu-prof-dir=${prof}`, 'bin/sus.mjs', 'broker']]
    : [path.join(ROOT, 'bin/sus.mjs'), ['broker']];
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...env, INFLUX_DB: config.INFLUX_DB, SUS_MQTT_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const until = Date.now() + 60_000;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null) throw new Error(`sus broker exited with ${child.exitCode}`);
      if (Date.now() > until) throw new Error('sus broker did not listen within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    return await runLoad(port, devices, influx, config.INFLUX_DB, spec, { pipeline: child.pid });
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}
