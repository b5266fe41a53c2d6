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
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createBroker } from '../../services/broker/index.ts';
import { type Config, loadConfig } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { createLogger } from '../../services/common/logger.ts';
import { createMetricsRegistry } from '../../services/common/metrics.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { nodeRedFlow, nodeRedSettings } from './node-red/flow.ts';
import {
  type BrokerOnlyResult,
  freshDb,
  type LoadSpec,
  nodeEnv,
  type RunResult,
  r1,
  runBrokerOnly,
  runLoad,
  seedDevices,
  susRound,
} from './sus-pipeline.ts';

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

const SPEC: LoadSpec = { messages: MESSAGES, inFlight: IN_FLIGHT, quantities: QUANTITIES, client: CLIENT };

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
    const floor = await runBrokerOnly(broker.port, devices, SPEC);
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
    const nr = await runLoad(broker.port, devices, influx, config.INFLUX_DB, SPEC, { peer: child.pid });
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
    ...nodeEnv(dataDir, ADMIN_KEY),
    // A slow subscriber (the Node-RED peer) is not cut off: the bench measures its throughput, not its eviction.
    SUS_MQTT_DRAIN_TIMEOUT_MS: '600000',
  };
  const susConfig = loadConfig({ ...base, INFLUX_DB: `sus_bench_${run}_sus` });
  const nrConfig = loadConfig({ ...base, INFLUX_DB: `sus_bench_${run}_nodered` });
  console.log(
    `bench:ingest — ${MESSAGES} QoS 1 messages × ${QUANTITIES.length} readings from ${DEVICES} devices ` +
      `(${IN_FLIGHT} in flight each); InfluxDB ${susConfig.INFLUX_URL}; ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'}`,
  );

  const devices = await seedDevices(susConfig, DEVICES);
  const userDir = path.join(NR_DIR, `user-${run}`);
  mkdirSync(userDir, { recursive: true });
  const rounds: Array<{ sus: RunResult; nr: RunResult; floor: BrokerOnlyResult; ratio: number }> = [];
  try {
    for (let k = 1; k <= ROUNDS; k++) {
      console.log(`round ${k}/${ROUNDS}: SUS…`);
      const sus = await susRound(base, susConfig, devices, SPEC);
      if (process.env.BENCH_SUS_ONLY === '1') {
        // For profiling the pipeline alone (node --cpu-prof): no peer, no ratio.
        console.log(JSON.stringify({ ...sus, load: undefined }));
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
