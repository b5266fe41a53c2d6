/**
 * bench:alerts — what active alert rules cost a `sus broker` node under bench:ingest's load, and how fast an alert
 * leaves. Each round runs the same load twice on fresh nodes (the shipped `sus broker` as a child process, its own
 * CPU measured, InfluxDB real), which one first alternating: with no rules, and with BENCH_RULES (1,000) rules from
 * SUS_RULES_FILE — most on the devices and quantities the load sends, with thresholds the values never cross, so
 * every reading is compared with its device's rules; one rule on bench-0's pm2_5, whose value the load generator
 * switches between low and high every BENCH_FLIP (100) of bench-0's messages, so the alert fires and resolves (one
 * change per ≈ 2,000 messages of the run) and each change posts a signed webhook to a real HTTP receiver in this
 * process (not in the node).
 * Reports CPU per message of the node with and without the rules (the median round), readings/s, and the alert
 * latency publish → webhook received, p50/p99 over every round. Ends with one JSON line.
 * `npm run bench:alerts-path` measures the ingest path alone (no broker, no InfluxDB), where the same cost is a larger
 * share of a smaller whole.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { type LoadSpec, nodeEnv, now, pct, type RunResult, r1, seedDevices, susRound } from './sus-pipeline.ts';
import { webhookReceiver } from './webhook-receiver.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const RULES = Number(process.env.BENCH_RULES ?? 1000);
const FLIP = Number(process.env.BENCH_FLIP ?? 100);
// Rounds of without-then-with; the machine's speed drifts between runs, so one pair is not a verdict.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const DEVICES = 20;
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;
const ADMIN_KEY = `sus_bench_${randomBytes(16).toString('hex')}`;

interface Round {
  without: RunResult;
  with: RunResult;
  costPct: number;
}

const usPerMsg = (r: RunResult) => (r.cpuS * 1e6) / MESSAGES;

async function main(): Promise<void> {
  // Webhooks received: the alert's value (unique per flip message) → when it arrived.
  const receiver = await webhookReceiver(now);
  const { received, url: hookUrl } = receiver;
  const run = randomBytes(4).toString('hex');
  const dataDir = path.join(ROOT, `var/bench/alerts-${run}`);
  mkdirSync(dataDir, { recursive: true });
  const base = {
    ...nodeEnv(dataDir, ADMIN_KEY),
    SUS_RULES_MAX_PER_DEPARTMENT: String(RULES + 1),
    SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
  };
  const config = loadConfig({ ...base, INFLUX_DB: `sus_bench_${run}_alerts` });
  const devices = await seedDevices(config, DEVICES);
  const spec: LoadSpec = {
    messages: MESSAGES,
    inFlight: 100,
    quantities: QUANTITIES,
    client: 'raw',
    flip: { device: devices[0]!.id, quantity: 'pm2_5', every: FLIP, low: 5, high: 500 },
  };
  const rules = [
    {
      id: 'loud',
      owner: 'environment',
      name: 'bench-0 pm2_5 high',
      quantity: 'pm2_5',
      device: devices[0]!.id,
      above: 100,
      notify: [{ type: 'webhook', url: hookUrl, secret: 'bench-secret-0123456789' }],
    },
    // Never crossed: every reading of the device and quantity is compared with them.
    ...Array.from({ length: RULES - 1 }, (_, r) => ({
      id: `quiet-${r}`,
      owner: 'environment',
      name: `quiet ${r}`,
      quantity: QUANTITIES[r % QUANTITIES.length],
      device: devices[r % DEVICES]!.id,
      above: 1e6,
    })),
  ];
  const withFile = path.join(dataDir, 'rules.json');
  const noneFile = path.join(dataDir, 'no-rules.json');
  writeFileSync(withFile, JSON.stringify(rules));
  // An empty file, not no setting: a start with the file's rules leaves them in the registry until a file drops them.
  writeFileSync(noneFile, '[]');
  const load = loadavg().map((l) => Math.round(l * 100) / 100);
  console.log(
    `bench:alerts — ${MESSAGES} QoS 1 messages × ${QUANTITIES.length} readings from ${DEVICES} devices into a ` +
      `sus broker node, without rules and with ${RULES}; ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown CPU'} (load ${load.join(' ')})`,
  );
  const rounds: Round[] = [];
  const latencies: number[] = [];
  let flipsSent = 0;
  try {
    for (let k = 1; k <= ROUNDS; k++) {
      // Which goes first alternates: a machine speeding up or slowing down over a round favours neither.
      const runWithout = () => susRound({ ...base, SUS_RULES_FILE: noneFile }, config, devices, spec);
      const runWith = () => susRound({ ...base, SUS_RULES_FILE: withFile }, config, devices, spec);
      received.clear();
      let without: RunResult;
      let withRules: RunResult;
      if (k % 2 === 1) {
        without = await runWithout();
        withRules = await runWith();
      } else {
        withRules = await runWith();
        without = await runWithout();
      }
      // The node stops once its readings are stored; a webhook still in flight then is not counted, not waited for.
      for (const f of withRules.load.flips) {
        flipsSent++;
        const at = received.get(f.value);
        if (at !== undefined) latencies.push(at - f.published);
      }
      const costPct = (usPerMsg(withRules) / usPerMsg(without) - 1) * 100;
      rounds.push({ without, with: withRules, costPct });
      console.log(
        `round ${k}/${ROUNDS}: ${usPerMsg(without).toFixed(1)} µs CPU per message without rules, ` +
          `${usPerMsg(withRules).toFixed(1)} with ${RULES} (${r1(costPct)} %); ${withRules.load.flips.length} alert changes`,
      );
    }
  } finally {
    receiver.close();
    await new InfluxQuery(config).query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
  latencies.sort((a, b) => a - b);
  const median = [...rounds].sort((a, b) => a.costPct - b.costPct)[Math.floor((rounds.length - 1) / 2)]!;
  const lost = rounds.reduce((n, r) => n + r.without.lost + r.with.lost, 0);
  console.log(`\nmedian round (by cost):`);
  for (const [name, r] of [
    ['no rules', median.without],
    [`${RULES} rules`, median.with],
  ] as const)
    console.log(
      `  ${name.padEnd(10)} ${usPerMsg(r).toFixed(1)} µs CPU per message, ${Math.round(r.readingsPerS)} readings/s, ` +
        `PUBACK p99 ${r1(r.pubackMs.p99)} ms, written p99 ${r1(r.writtenMs.p99)} ms`,
    );
  console.log(
    `  cost of the rules: ${r1(median.costPct)} % CPU per message (rounds: ${rounds.map((r) => r1(r.costPct)).join(', ')} %)`,
  );
  console.log(
    `  ${latencies.length} of ${flipsSent} alert changes timed: publish → webhook received p50 ${r1(pct(latencies, 50))} ms, ` +
      `p99 ${r1(pct(latencies, 99))} ms; readings lost: ${lost}`,
  );
  console.log(
    JSON.stringify({
      bench: 'alerts',
      messages: MESSAGES,
      rules: RULES,
      rounds: ROUNDS,
      load_avg: load,
      us_per_msg_without: r1(usPerMsg(median.without)),
      us_per_msg_with: r1(usPerMsg(median.with)),
      readings_per_s_without: Math.round(median.without.readingsPerS),
      readings_per_s_with: Math.round(median.with.readingsPerS),
      cost_pct: r1(median.costPct),
      cost_pct_rounds: rounds.map((r) => r1(r.costPct)),
      alert_changes: flipsSent,
      webhooks_timed: latencies.length,
      latency_ms_p50: r1(pct(latencies, 50)),
      latency_ms_p99: r1(pct(latencies, 99)),
      lost,
    }),
  );
  if (latencies.length === 0 || lost > 0) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
