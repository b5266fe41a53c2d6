/**
 * bench:ingest — end-to-end QoS 1 ingestion, SUS versus a Node-RED flow, side by side in one run against the same
 * broker implementation (SusBroker, same settings, same devices) and the same InfluxDB.
 *
 *   SUS:      devices → `sus broker` (SusBroker → in-process ingest → durable spool, fsync) → InfluxDB
 *   Node-RED: devices → SusBroker → Node-RED (MQTT in → JSON → points → InfluxDB batch out)
 *
 * Load: BENCH_DEVICES device clients (default 20), each keeping BENCH_IN_FLIGHT QoS 1 publishes in flight (default
 * 100), BENCH_MESSAGES messages in all (default 200,000), 4 readings each. publish→PUBACK is measured per message;
 * publish→written by polling InfluxDB's per-shard write counters every 100 ms (same method for both) and matching the n-th PUBACK to the
 * moment 4·n readings were stored. Throughput = messages / (first publish → last reading stored).
 * The load generator runs in its own process (ingest-load.ts). CPU and RSS: the `sus broker` child process for SUS;
 * for the peer, the bench process (its broker) and the Node-RED process. BENCH_ROUNDS rounds (default 5) of SUS then Node-RED,
 * each on a fresh platform/broker and an empty database; the printed figures are those of the median-ratio round.
 * BENCH_SUS_ONLY=1 skips Node-RED; BENCH_CPU_PROF=<dir> writes a CPU profile of each SUS process (for profiling).
 *
 * Node-RED and node-red-contrib-influxdb are installed on first run into var/bench/node-red (not project deps).
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createBroker } from '../../services/broker/index.ts';
import { type Config, loadConfig } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { createLogger } from '../../services/common/logger.ts';
import { createMetricsRegistry } from '../../services/common/metrics.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { canConnect, freePort } from '../helpers/net.ts';
import type { LoadRequest, LoadResult } from './ingest-load.ts';
import { nodeRedFlow, nodeRedSettings } from './node-red/flow.ts';
import { procStats } from './proc-stats.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NR_DIR = path.join(ROOT, 'var/bench/node-red');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 20);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 100);
const CLIENT = process.env.BENCH_CLIENT === 'mqttjs' ? 'mqttjs' : 'raw';
// Rounds of SUS then Node-RED; the machine's speed drifts between runs, so one round is not a verdict.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;
const ADMIN_KEY = `sus_bench_${randomBytes(16).toString('hex')}`;
const log = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');

interface RunResult {
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
}

const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const r1 = (n: number) => Math.round(n * 10) / 10;

function ensureNodeRed(): string {
  const red = path.join(NR_DIR, 'node_modules/node-red/red.js');
  if (existsSync(red) && existsSync(path.join(NR_DIR, 'node_modules/node-red-contrib-influxdb'))) return red;
  mkdirSync(NR_DIR, { recursive: true });
  copyFileSync(path.join(import.meta.dirname, 'node-red/package.json'), path.join(NR_DIR, 'package.json'));
  console.log(`installing node-red and node-red-contrib-influxdb into ${NR_DIR} (once)…`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], { cwd: NR_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm install of node-red failed');
  return red;
}

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

async function storedReadings(influx: InfluxQuery): Promise<number> {
  const [series = []] = await influx.query(`SELECT count("value") FROM ${QUANTITIES.map((q) => `"${q}"`).join(',')}`);
  return series.reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0);
}

const now = () => performance.timeOrigin + performance.now();

/** Forks the load generator, waits until its devices are connected; the promise it returns ends with the run. */
async function startGenerator(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
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
  const request: LoadRequest = {
    port: mqttPort,
    devices,
    messages: MESSAGES,
    inFlight: IN_FLIGHT,
    quantities: QUANTITIES,
    client: CLIENT,
  };
  gen.send(request);
  await Promise.race([connected, messages]);
  // Wrapped: an async function returning the bare promise would make `await` wait for the whole run.
  return { done: messages };
}

/**
 * The floor under both pipelines: the same broker acknowledging every message with no ingest behind it. Its CPU per
 * message is what the MQTT side costs; whatever SUS spends above it is the pipeline itself.
 */
interface BrokerOnlyResult {
  msgsPerS: number;
  cpuS: number;
  genCpuS: number;
}

async function runBrokerOnly(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
): Promise<BrokerOnlyResult> {
  const run = await startGenerator(mqttPort, devices);
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
async function runLoad(
  mqttPort: number,
  devices: Array<{ id: string; secret: string }>,
  influx: InfluxQuery,
  db: string,
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
  const run = await startGenerator(mqttPort, devices);

  const marks: Array<[number, number]> = [];
  let rssMb = 0;
  let peerRssMb = 0;
  const peerCpu0 = peerPid ? procStats(peerPid).cpuS : 0;
  const influxPid = influxdPid();
  const influxCpu0 = influxPid ? procStats(influxPid).cpuS : 0;
  const cpu0 = pipelineCpuS();
  const expected = MESSAGES * QUANTITIES.length;
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
    if (n >= expected && (await storedReadings(influx)) >= expected) break;
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
  const final = await storedReadings(influx);
  const doneAt = marks.find(([, n]) => n >= final)?.[0] ?? now();
  const writtenMs: number[] = [];
  let m = 0;
  for (let r = 0; r < load.ackOrder.length; r++) {
    const need = (r + 1) * QUANTITIES.length;
    while (m < marks.length && marks[m]![1] < need) m++;
    if (m === marks.length) break;
    writtenMs.push(marks[m]![0] - load.published[load.ackOrder[r]!]!);
  }
  const pubackMs = [...load.pubackMs].sort((a, b) => a - b);
  writtenMs.sort((a, b) => a - b);
  const seconds = (doneAt - load.start) / 1000;
  return {
    msgsPerS: final / QUANTITIES.length / seconds,
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
  };
}

async function freshDb(config: Config): Promise<InfluxQuery> {
  const influx = new InfluxQuery(config);
  await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => {});
  await influx.ensureDatabase();
  return influx;
}

/** Registers the bench devices once; every round's platform and broker open the same registry. */
async function seedDevices(config: Config): Promise<Array<{ id: string; secret: string }>> {
  const registry = await openRegistry(config);
  try {
    await registry.createDepartment({ id: 'environment', name: 'Environment' });
    const devices: Array<{ id: string; secret: string }> = [];
    for (let d = 0; d < DEVICES; d++) {
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
async function susRound(
  env: NodeJS.ProcessEnv,
  config: Config,
  devices: Array<{ id: string; secret: string }>,
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
    return await runLoad(port, devices, influx, config.INFLUX_DB, { pipeline: child.pid });
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

/** One Node-RED run on a fresh broker and database, after the broker-alone floor on the same broker. */
async function nodeRedRound(
  config: Config,
  devices: Array<{ id: string; secret: string }>,
  red: string,
  userDir: string,
): Promise<{ nr: RunResult; floor: BrokerOnlyResult }> {
  const registry = await openRegistry(config);
  const broker = createBroker(config, registry, log, createMetricsRegistry(false), async () => {});
  let nodeRed: ChildProcess | undefined;
  try {
    await broker.start();
    const influx = await freshDb(config);
    const floor = await runBrokerOnly(broker.port, devices);
    const influxUrl = new URL(config.INFLUX_URL);
    const flow = nodeRedFlow({
      mqttPort: broker.port,
      mqttUser: 'svc:node-red-bench',
      mqttPassword: ADMIN_KEY,
      influxHost: influxUrl.hostname,
      influxPort: Number(influxUrl.port || 8086),
      influxDb: config.INFLUX_DB,
      batchSize: config.SUS_WRITE_BATCH_SIZE,
      lingerMs: config.SUS_WRITE_FLUSH_MS,
    });
    writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow.flows));
    writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(flow.credentials));
    writeFileSync(path.join(userDir, 'settings.js'), nodeRedSettings(0));
    // The same young-generation size as `sus` (bin/sus.mjs): both pipelines run with the same V8 tuning.
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=64', red, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
      { cwd: userDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    nodeRed = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Node-RED did not connect within 60 s:\n${output}`)), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        output += `${line}\n`;
        if (/Connected to broker/.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.once('exit', () => reject(new Error(`Node-RED exited:\n${output}`)));
    });
    const nr = await runLoad(broker.port, devices, influx, config.INFLUX_DB, { peer: child.pid });
    return { nr, floor };
  } finally {
    if (nodeRed && nodeRed.exitCode === null) {
      const exited = new Promise((resolve) => nodeRed!.once('exit', resolve));
      nodeRed.kill('SIGTERM');
      await exited;
    }
    await broker.stop();
    await registry.close();
  }
}

async function main(): Promise<void> {
  const red = ensureNodeRed();
  const run = randomBytes(4).toString('hex');
  const dataDir = path.join(ROOT, `var/bench/run-${run}`);
  const base = {
    ...process.env,
    // No INFLUX_URL here: unset, the config derives it from SUS_INFLUX_PORT, as for the local stack.
    INFLUX_API: process.env.INFLUX_API ?? 'v1',
    SUS_DATA_DIR: dataDir,
    DATABASE_URL: '',
    SUS_MQTT_HOST: '127.0.0.1',
    SUS_MQTT_PORT: '0',
    SUS_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: 'warn',
    SUS_SELF_METRICS_INTERVAL_S: '3600',
    // A slow subscriber (the Node-RED peer) is not cut off: the bench measures its throughput, not its eviction.
    SUS_MQTT_DRAIN_TIMEOUT_MS: '600000',
  };
  const susConfig = loadConfig({ ...base, INFLUX_DB: `sus_bench_${run}_sus` });
  const nrConfig = loadConfig({ ...base, INFLUX_DB: `sus_bench_${run}_nodered` });
  console.log(
    `bench:ingest — ${MESSAGES} QoS 1 messages × ${QUANTITIES.length} readings from ${DEVICES} devices ` +
      `(${IN_FLIGHT} in flight each); InfluxDB ${susConfig.INFLUX_URL}; ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'}`,
  );

  const devices = await seedDevices(susConfig);
  const userDir = path.join(NR_DIR, `user-${run}`);
  mkdirSync(userDir, { recursive: true });
  const rounds: Array<{ sus: RunResult; nr: RunResult; floor: BrokerOnlyResult; ratio: number }> = [];
  try {
    for (let k = 1; k <= ROUNDS; k++) {
      console.log(`round ${k}/${ROUNDS}: SUS…`);
      const sus = await susRound(base, susConfig, devices);
      if (process.env.BENCH_SUS_ONLY === '1') {
        // For profiling the pipeline alone (node --cpu-prof): no peer, no ratio.
        console.log(JSON.stringify(sus));
        return;
      }
      console.log(`round ${k}/${ROUNDS}: broker alone, then Node-RED…`);
      const { nr, floor } = await nodeRedRound(nrConfig, devices, red, userDir);
      const ratio = sus.msgsPerS / nr.msgsPerS;
      rounds.push({ sus, nr, floor, ratio });
      console.log(
        `round ${k}/${ROUNDS}: SUS ${Math.round(sus.msgsPerS)} msg/s, Node-RED ${Math.round(nr.msgsPerS)} msg/s, ` +
          `ratio ${ratio.toFixed(2)}`,
      );
    }
  } finally {
    const influx = new InfluxQuery(susConfig);
    for (const db of [susConfig.INFLUX_DB, nrConfig.INFLUX_DB]) {
      await influx.query(`DROP DATABASE "${db}"`, 'POST').catch(() => {});
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(userDir, { recursive: true, force: true });
  }
  // The machine's speed drifts between runs: the figures below are those of the round with the median ratio.
  const byRatio = [...rounds].sort((a, b) => a.ratio - b.ratio);
  const { sus, nr, floor } = byRatio[Math.floor((byRatio.length - 1) / 2)]!;

  const row = (name: string, r: RunResult, cpu: string, rss: string) =>
    `${name.padEnd(9)} ${r1(r.msgsPerS).toString().padStart(9)} ${r1(r.readingsPerS).toString().padStart(11)} ` +
    `${r1(r.pubackMs.p50).toString().padStart(8)} ${r1(r.pubackMs.p99).toString().padStart(8)} ` +
    `${r1(r.writtenMs.p50).toString().padStart(9)} ${r1(r.writtenMs.p99).toString().padStart(9)} ` +
    `${String(r.lost).padStart(6)}  ${cpu.padEnd(34)} ${rss}`;
  console.log(
    `\n${'pipeline'.padEnd(9)} ${'msgs/s'.padStart(9)} ${'readings/s'.padStart(11)} ${'ack p50'.padStart(8)} ` +
      `${'ack p99'.padStart(8)} ${'wrt p50'.padStart(9)} ${'wrt p99'.padStart(9)} ${'lost'.padStart(6)}  ` +
      `${'CPU s (broker proc | Node-RED)'.padEnd(34)} RSS MB (broker proc | Node-RED)`,
  );
  console.log(row('SUS', sus, `${r1(sus.cpuS)}`, `${r1(sus.rssMb)}`));
  console.log(row('Node-RED', nr, `${r1(nr.cpuS)} | ${r1(nr.peerCpuS)}`, `${r1(nr.rssMb)} | ${r1(nr.peerRssMb)}`));
  const ratio = sus.msgsPerS / nr.msgsPerS;
  const r2 = (n: number) => Math.round(n * 100) / 100;
  console.log(
    `\n${rounds.length} rounds, ratios ${rounds.map((r) => r2(r.ratio)).join(', ')}; the table is the median round`,
  );
  const us = (cpuS: number) => Math.round((cpuS * 1e6) / MESSAGES);
  console.log(`\nSUS / Node-RED throughput: ${r2(ratio)}×  (latencies in ms; lost = readings not in InfluxDB)`);
  console.log(
    `broker alone (same broker, PUBACK with no ingest): ${r1(floor.msgsPerS)} msgs/s, ${us(floor.cpuS)} µs CPU/msg`,
  );
  console.log(
    `CPU µs per message in the SUS run: pipeline process ${us(sus.cpuS)}, load generator ${us(sus.genCpuS)}, ` +
      `influxd ${Number.isNaN(sus.influxCpuS) ? 'n/a (external InfluxDB)' : us(sus.influxCpuS)}`,
  );
  console.log(
    JSON.stringify({
      bench: 'ingest',
      msgs_per_s: r1(sus.msgsPerS),
      readings_per_s: r1(sus.readingsPerS),
      p50_puback_ms: r1(sus.pubackMs.p50),
      p99_puback_ms: r1(sus.pubackMs.p99),
      p50_written_ms: r1(sus.writtenMs.p50),
      p99_written_ms: r1(sus.writtenMs.p99),
      lost: sus.lost,
      cpu_s: r1(sus.cpuS),
      // CPU per message is the figure least distorted by other load on the machine.
      cpu_us_per_msg: us(sus.cpuS),
      load_generator_cpu_us_per_msg: us(sus.genCpuS),
      influxd_cpu_us_per_msg: Number.isNaN(sus.influxCpuS) ? null : us(sus.influxCpuS),
      broker_only_msgs_per_s: r1(floor.msgsPerS),
      broker_only_cpu_us_per_msg: us(floor.cpuS),
      node_red_cpu_us_per_msg: us(nr.cpuS + nr.peerCpuS),
      rss_mb: r1(sus.rssMb),
      node_red_msgs_per_s: r1(nr.msgsPerS),
      node_red_p99_written_ms: r1(nr.writtenMs.p99),
      node_red_lost: nr.lost,
      node_red_cpu_s: r1(nr.cpuS + nr.peerCpuS),
      node_red_rss_mb: r1(nr.peerRssMb),
      ratio_vs_node_red: r2(ratio),
      ratio_rounds: rounds.map((r) => r2(r.ratio)),
      messages: MESSAGES,
      cores: availableParallelism(),
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
