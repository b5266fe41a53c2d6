/**
 * bench:broker — the platform's Aedes broker vs Debian's mosquitto, side by side on this machine in one run:
 *   1. QoS 1 fan-in: 1,000 authenticated devices publish readings (one in flight each); messages/s and
 *      publish→PUBACK latency p50/p99. Publishers use raw-publisher.ts: with mqtt.js the load generator itself was
 *      the limit and both brokers measured alike (~10k msg/s).
 *   2. Reconnect storm: 10,000 devices connect; time until all are connected; broker RSS: the highest sampled during
 *      the storm, at the last CONNACK, and settled (BENCH_SETTLE_S after it, the devices still connected).
 * Both brokers run in their own process with an equivalent password file and ACL. The SUS side is a real `sus broker`
 * node (bin/sus.mjs, as a city runs it: layers 1 and 2, ingest writing to InfluxDB), once with the embedded PGlite
 * and once with PostgreSQL as its registry. The storms also measure a floor: Aedes alone (aedes-alone.mjs, the same
 * Aedes with the password check and ACL in memory), Aedes' own share of a node's connect time. Ends with one JSON line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { connectAsync, type MqttClient } from 'mqtt';
import { compiledIsFresh } from '../../bin/compiled.mjs';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { adminQuery, withSearchPath } from '../helpers/pg.ts';
import { provisionBenchDevices } from './broker-provision.ts';
import { procStats } from './proc-stats.ts';
import { RawPublisher } from './raw-publisher.ts';

const FAN_IN_DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const MESSAGES_PER_DEVICE = Number(process.env.BENCH_MESSAGES ?? 20);
const STORM_DEVICES = Number(process.env.BENCH_STORM ?? 10_000);
const CONNECT_CONCURRENCY = 500;
/**
 * Seconds after the last CONNACK at which the broker's RSS is sampled with every device still connected; the last one
 * is the settled figure: "RSS at 10,000 connected devices" is a steady state, not the storm's transient (V8's memory
 * reducer shrinks the young generation once allocation slows).
 */
const SETTLE_S = (process.env.BENCH_SETTLE_S ?? '0,5,10,20,30').split(',').map(Number);
/** BENCH_CPU_PROF=<dir>: each `sus broker` node writes a V8 CPU profile there when it stops. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
/** BENCH_SUS_NODE_OPTIONS: node options for the nodes alone (e.g. `--heapsnapshot-signal=SIGUSR2`, an `--import` probe). */
const SUS_NODE_OPTIONS = [process.env.NODE_OPTIONS, process.env.BENCH_SUS_NODE_OPTIONS].filter(Boolean).join(' ');
/** The node flags of bin/sus.mjs's shebang (`#!/usr/bin/env -S node …`), repeated when node is started explicitly. */
const shebangFlags = () =>
  readFileSync(path.join(ROOT, 'bin/sus.mjs'), 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(3);
const ROOT = path.resolve(import.meta.dirname, '../..');

interface Target {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const rssMb = (pid: number) => Math.round(procStats(pid).rssMb * 10) / 10;

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * A `sus broker` node exactly as a city runs it: `bin/sus.mjs broker` (its node flags from the shebang, the whole
 * composition of services/cli/platform.ts: broker, ingest into InfluxDB through the spool, alerting, rollups,
 * self-metrics, housekeeping), its own data directory, one node (no Redis). The devices are provisioned before it
 * starts, so its RSS holds nothing the bench needed to set up.
 */
async function startSus(devices: number, registryUrl?: string): Promise<Target> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sus-bench-broker-'));
  await provisionBenchDevices({ DATABASE_URL: registryUrl, SUS_DATA_DIR: dataDir }, devices);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SUS_DATA_DIR: dataDir,
    SUS_MQTT_HOST: '127.0.0.1',
    SUS_MQTT_PORT: '0',
    SUS_LOG_JSON: '1',
    LOG_LEVEL: 'info',
    // Chosen here, so the node does not print a generated bootstrap key.
    SUS_ADMIN_KEY: `bench-${randomBytes(24).toString('hex')}`,
  };
  delete env.REDIS_URL;
  if (SUS_NODE_OPTIONS) env.NODE_OPTIONS = SUS_NODE_OPTIONS;
  if (registryUrl) env.DATABASE_URL = registryUrl;
  else delete env.DATABASE_URL;
  // Executed, not `node bin/sus.mjs`: the shebang's V8 flags are part of what is measured. --cpu-prof is not allowed
  // in NODE_OPTIONS: with a profile, node runs the bin with the shebang's flags repeated.
  const [command, args] = CPU_PROF_DIR
    ? [process.execPath, [...shebangFlags(), '--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, 'bin/sus.mjs', 'broker']]
    : [path.join(ROOT, 'bin/sus.mjs'), ['broker']];
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env });
  const port = await new Promise<number>((resolve, reject) => {
    // The node's log is read to its end (a full pipe would stall it); its start line names the MQTT port.
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /SUS platform up:.*mqtt:\/\/localhost:(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`sus broker exited with ${code} before listening`)));
  });
  return {
    name: `sus broker (${registryUrl ? 'PostgreSQL' : 'PGlite'})`,
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The floor: Aedes alone in its own process (aedes-alone.mjs), its devices' secrets and ACL in memory. */
async function startAedesAlone(devices: number): Promise<Target> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'aedes-alone.mjs'), String(devices)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^port (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`aedes-alone.mjs exited with ${code} before listening`)));
  });
  return { name: 'Aedes alone', port, pid: child.pid!, stop: () => stopChild(child) };
}

async function startMosquittoTarget(devices: number): Promise<Target> {
  const users: Record<string, string> = {};
  for (let i = 0; i < devices; i++) users[`bench-${i}`] = `secret-${i}`;
  const m = await startMosquitto({
    users,
    // The platform's ACL, in mosquitto's words: each device only under its own prefix.
    acl: [
      'pattern write sus/v1/devices/%u/up',
      'pattern write sus/v1/devices/%u/up/#',
      'pattern write sus/v1/devices/%u/ack',
      'pattern write sus/v1/devices/%u/ack/#',
      'pattern read sus/v1/devices/%u/down/#',
    ],
  });
  return { name: 'mosquitto', port: m.port, pid: m.pid, stop: () => m.stop() };
}

/** Devices `bench-0…count-1` connected by `connect`, CONNECT_CONCURRENCY at a time. */
async function connectPool<T>(count: number, connect: (i: number) => Promise<T>): Promise<T[]> {
  const clients: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      clients[i] = await connect(i);
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  return clients;
}

async function connectMany(port: number, count: number): Promise<{ clients: MqttClient[]; seconds: number }> {
  const start = performance.now();
  const clients = await connectPool(count, (i) =>
    connectAsync(
      `mqtt://127.0.0.1:${port}`,
      {
        username: `bench-${i}`,
        password: `secret-${i}`,
        clientId: `bench-${i}`,
        reconnectPeriod: 0,
        keepalive: 600,
        connectTimeout: 60_000,
      },
      false,
    ),
  );
  return { clients, seconds: (performance.now() - start) / 1000 };
}

async function disconnectAll(clients: MqttClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Fan-in publishers: the lean raw-MQTT client, so the load generator (this process) is not what gets measured. */
function connectRaw(port: number, count: number): Promise<RawPublisher[]> {
  return connectPool(count, async (i) => {
    const p = new RawPublisher({ port, clientId: `bench-${i}`, username: `bench-${i}`, password: `secret-${i}` });
    await p.connect();
    return p;
  });
}

async function fanIn(target: Target) {
  const clients = await connectRaw(target.port, FAN_IN_DEVICES);
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      const topic = `sus/v1/devices/bench-${i}/up`;
      for (let seq = 0; seq < MESSAGES_PER_DEVICE; seq++) {
        const payload = Buffer.from(
          JSON.stringify({ time: Date.now(), seq, values: { air_temperature: 21.4, pm2_5: 12.1 } }),
        );
        const t0 = performance.now();
        await new Promise<void>((resolve) => client.publish(topic, payload, resolve));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  return {
    msgsPerS: Math.round(latencies.length / seconds),
    p50: round(percentile(latencies, 0.5)),
    p99: round(percentile(latencies, 0.99)),
  };
}

const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/**
 * Until the broker has closed the storm's connections (its open files back to where they were, or 60 s): the next
 * storm must not start while this one's clients are still being torn down on the broker's side.
 */
async function brokerSettled(pid: number, files: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (openFiles(pid) > files + 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storm(target: Target) {
  const idle = rssMb(target.pid);
  const files = openFiles(target.pid);
  // The storm's peak: /proc sampled every 200 ms while the devices connect (a cheap read, off the broker's process).
  let peak = idle;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(target.pid));
  }, 200);
  const { clients, seconds } = await connectMany(target.port, STORM_DEVICES);
  clearInterval(sampler);
  const rss = rssMb(target.pid);
  peak = Math.max(peak, rss);
  // Settled: the devices stay connected (their keepalive is 600 s, no traffic), the broker's RSS over time.
  const start = performance.now();
  const settle: number[] = [];
  for (const s of SETTLE_S) {
    const wait = s * 1000 - (performance.now() - start);
    if (wait > 0) await sleep(wait);
    settle.push(rssMb(target.pid));
  }
  const connected = clients.filter((c) => c.connected).length;
  await disconnectAll(clients);
  await brokerSettled(target.pid, files);
  return {
    seconds: round(seconds),
    rssMb: rss,
    peakRssMb: peak,
    settledRssMb: settle.at(-1) ?? rss,
    settle,
    connected,
    idleRssMb: idle,
  };
}

const devices = Math.max(FAN_IN_DEVICES, STORM_DEVICES);
const SUS_CODE = compiledIsFresh()
  ? 'compiled, dist/'
  : 'TypeScript through tsx: run `npm run build` for the production form';
const SUS_NODE = `\`sus broker\` (bin/sus.mjs with its node flags, ${SUS_CODE}; broker + ingest into InfluxDB, one node, no Redis)`;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`bench:broker on ${os.cpus().length} × ${cpu}, node ${process.version}`);
console.log(
  `fan-in: ${FAN_IN_DEVICES} devices × ${MESSAGES_PER_DEVICE} QoS 1 messages; storm: ${STORM_DEVICES} devices`,
);
console.log(`SUS measured as ${SUS_NODE}; mosquitto in the same run`);

// With BENCH_REGISTRY_URL (or TEST_DATABASE_URL, as the test environment sets it) the SUS broker runs a second time,
// with PostgreSQL as its registry (a schema of its own, dropped afterwards).
const pgBase = process.env.BENCH_REGISTRY_URL ?? process.env.TEST_DATABASE_URL;
const schema = `sus_bench_${randomBytes(4).toString('hex')}`;
const suses: Target[] = [];
// BENCH_PGLITE=0: the PostgreSQL run alone (the scale-out case), when a registry URL is set.
if (process.env.BENCH_PGLITE !== '0' || !pgBase) suses.push(await startSus(devices));
if (pgBase) {
  await adminQuery(pgBase, `CREATE SCHEMA ${schema}`);
  suses.push(await startSus(devices, withSearchPath(pgBase, schema)));
} else console.log('BENCH_REGISTRY_URL is unset: the SUS broker runs with PGlite only');
const mosquitto = await startMosquittoTarget(devices);
// BENCH_FLOOR=0: no Aedes-alone storms.
const floorTarget = process.env.BENCH_FLOOR !== '0' ? await startAedesAlone(devices) : undefined;
const stormTargets = [...suses, ...(floorTarget ? [floorTarget] : []), mosquitto];
const fanInOn = process.env.BENCH_FAN_IN !== '0';
// The storms take turns (each SUS node, then mosquitto, round after round) and each connect-time ratio is taken from
// one round's neighbouring storms: on a shared machine the load moves between runs, not within a few seconds.
const STORM_ROUNDS = Number(process.env.BENCH_STORM_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  type Fan = Awaited<ReturnType<typeof fanIn>>;
  type Storm = Awaited<ReturnType<typeof storm>>;
  const fans: Record<string, Fan> = {};
  for (const target of [...suses, mosquitto]) {
    if (!fanInOn) break;
    const fan = await fanIn(target);
    console.log(`${target.name}: ${fan.msgsPerS} msg/s, PUBACK p50 ${fan.p50} ms, p99 ${fan.p99} ms`);
    fans[target.name] = fan;
  }
  const storms: Record<string, Storm[]> = Object.fromEntries(stormTargets.map((t) => [t.name, []]));
  for (let round = 1; round <= STORM_ROUNDS; round++) {
    for (const target of stormTargets) {
      const s = await storm(target);
      console.log(
        `round ${round}, ${target.name}: ${STORM_DEVICES} connects in ${s.seconds} s, broker RSS ${s.rssMb} MB ` +
          `at the last CONNACK (peak ${s.peakRssMb} MB, ${s.idleRssMb} MB before); ${s.connected} still connected ` +
          `after ${SETTLE_S.join('/')} s: ${s.settle.join(' / ')} MB; load ${os.loadavg()[0]!.toFixed(2)}`,
      );
      storms[target.name]!.push(s);
    }
  }
  /**
   * Median connect time, highest RSS of the rounds (at the last CONNACK, peak during the storm, settled), median of
   * the rounds' ratios to mosquitto's time.
   */
  const summary = (name: string) => {
    const mine = storms[name]!;
    const peerRounds = storms[mosquitto.name]!;
    return {
      fan: fans[name],
      seconds: round(median(mine.map((s) => s.seconds))),
      rssMb: Math.max(...mine.map((s) => s.rssMb)),
      peakRssMb: Math.max(...mine.map((s) => s.peakRssMb)),
      settledRssMb: Math.max(...mine.map((s) => s.settledRssMb)),
      idleRssMb: mine[0]!.idleRssMb,
      connectRatio: round(median(mine.map((s, i) => s.seconds / peerRounds[i]!.seconds))),
    };
  };
  const peer = summary(mosquitto.name);
  const floor = floorTarget ? summary(floorTarget.name) : undefined;
  const pglite = suses.length === 2 || !pgBase ? summary(suses[0]!.name) : undefined;
  const onPg = pgBase ? summary(suses.at(-1)!.name) : undefined;
  const ratio = pglite?.fan && peer.fan ? round(pglite.fan.msgsPerS / peer.fan.msgsPerS) : undefined;
  for (const sus of suses) {
    const r = summary(sus.name);
    console.log(
      `${sus.name} vs mosquitto (${STORM_ROUNDS} storm rounds: median time, median ratio, highest RSS): ` +
        (r.fan && peer.fan
          ? `throughput ${round(r.fan.msgsPerS / peer.fan.msgsPerS)}, p99 ${round(r.fan.p99 / peer.fan.p99)}, `
          : '') +
        `connect ${r.seconds} s vs ${peer.seconds} s, ratio ${r.connectRatio}; ` +
        `RSS at ${STORM_DEVICES}: ${r.settledRssMb} MB settled ${SETTLE_S.at(-1)} s after the last CONNACK ` +
        `(${r.rssMb} MB at it, peak ${r.peakRssMb} MB, ${r.idleRssMb} MB idle) vs ${peer.settledRssMb} MB`,
    );
  }
  if (floor) {
    console.log(
      `floor, ${floorTarget!.name} vs mosquitto: connect ${floor.seconds} s vs ${peer.seconds} s, ratio ` +
        `${floor.connectRatio}; RSS at ${STORM_DEVICES}: ${floor.settledRssMb} MB settled (${floor.rssMb} MB at the last ` +
        'CONNACK): what Aedes itself costs, the rest of a node is the platform',
    );
  }
  const load = os.loadavg().map((l) => round(l));
  console.log(`machine load average (1, 5, 15 min) at the end: ${load.join(', ')}`);
  console.log(
    JSON.stringify({
      bench: 'broker',
      sus_node: 'sus broker',
      sus_compiled: compiledIsFresh(),
      storm_rounds: STORM_ROUNDS,
      msgs_per_s: pglite?.fan?.msgsPerS,
      p50_puback_ms: pglite?.fan?.p50,
      p99_puback_ms: pglite?.fan?.p99,
      ratio_vs_mosquitto: ratio,
      connect_10k_s: pglite?.seconds,
      connect_ratio_vs_mosquitto: pglite?.connectRatio,
      rss_mb_10k: pglite?.rssMb,
      rss_mb_10k_peak: pglite?.peakRssMb,
      rss_mb_10k_settled: pglite?.settledRssMb,
      rss_mb_idle: pglite?.idleRssMb,
      pg_msgs_per_s: onPg?.fan?.msgsPerS,
      pg_connect_10k_s: onPg?.seconds,
      pg_rss_mb_10k: onPg?.rssMb,
      pg_rss_mb_10k_peak: onPg?.peakRssMb,
      pg_rss_mb_10k_settled: onPg?.settledRssMb,
      pg_rss_mb_idle: onPg?.idleRssMb,
      pg_connect_ratio_vs_mosquitto: onPg?.connectRatio,
      aedes_alone_connect_10k_s: floor?.seconds,
      aedes_alone_connect_ratio_vs_mosquitto: floor?.connectRatio,
      aedes_alone_rss_mb_10k: floor?.rssMb,
      aedes_alone_rss_mb_10k_settled: floor?.settledRssMb,
      mosquitto_msgs_per_s: peer.fan?.msgsPerS,
      mosquitto_p99_puback_ms: peer.fan?.p99,
      mosquitto_connect_10k_s: peer.seconds,
      mosquitto_rss_mb_10k: peer.rssMb,
      mosquitto_rss_mb_10k_settled: peer.settledRssMb,
      settle_s: SETTLE_S.at(-1),
      load_average: load,
    }),
  );
} finally {
  for (const sus of suses) await sus.stop();
  await mosquitto.stop();
  await floorTarget?.stop();
  if (pgBase) await adminQuery(pgBase, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
