/**
 * bench:alerts-path — what active alert rules cost the ingest path alone (bench:alerts measures a whole node), and
 * how fast an alert leaves. The ingest path
 * of bench:ingest-path (Ingestor.handle → real spool → a drainer that drops the body; no broker, no InfluxDB) runs
 * the same messages once per step of BENCH_RULE_STEPS (default 0, 100 and BENCH_RULES = 1,000 rules) evaluated (most on the same devices and
 * quantities, thresholds the values never cross, so every reading is compared with its device's rules; one rule
 * crosses and resolves every BENCH_FLIP messages of one device and posts a signed webhook to a real HTTP receiver
 * in this process). Reports CPU per message for both and the alert latency handle() → webhook received, p50/p99.
 * Ends with one JSON line.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { catalogue } from '../../services/common/catalogue.ts';
import { loadConfig } from '../../services/common/config.ts';
import { createLogger } from '../../services/common/logger.ts';
import { normaliseRule, RuleInputSchema } from '../../services/common/rules.ts';
import { createAlerting } from '../../services/ingest/alerts/index.ts';
import { createIngestService } from '../../services/ingest/index.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { driveIngest } from './ingest-driver.ts';
import { webhookReceiver } from './webhook-receiver.ts';

const N = Number(process.env.BENCH_MESSAGES ?? 100_000);
const RULES = Number(process.env.BENCH_RULES ?? 1000);
const FLIP = Number(process.env.BENCH_FLIP ?? 2000);
const IN_FLIGHT = 2000;
const DEVICES = 20;
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;

const receiver = await webhookReceiver(() => performance.now());
const { received, url: hookUrl } = receiver;

const config = loadConfig({
  ...process.env,
  INFLUX_URL: 'http://127.0.0.1:9',
  SUS_DATA_DIR: 'memory://',
  DATABASE_URL: '',
  SUS_ADMIN_KEY: 'sus_bench_alerts_key_0123456789abcdef',
  SUS_RULES_MAX_PER_DEPARTMENT: String(RULES + 1),
  SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
  LOG_LEVEL: 'warn',
});
const log = createLogger('warn', 'bench');
const registry = await openRegistry(config);
await registry.createDepartment({ id: 'environment', name: 'Environment' });
const ids: string[] = [];
for (let d = 0; d < DEVICES; d++) {
  const { device } = await registry.createDevice({
    id: `bench-${d}`,
    name: `bench ${d}`,
    department: 'environment',
    type: 'air_quality',
    district: 'Nord',
  });
  ids.push(device.id);
}

/** value of message i: bench-0's pm2_5 is high in every other stretch of FLIP messages; unique, to time it. */
const high = (i: number) => ids[i % DEVICES] === 'bench-0' && Math.floor(i / FLIP) % 2 === 1;
const pm25 = (i: number) => (high(i) ? 500 : 5) + i / N;
const t0 = Date.now() - 900_000;
const payloads = Array.from({ length: N }, (_, i) =>
  Buffer.from(
    JSON.stringify({
      time: t0 + i,
      values: { air_temperature: (i % 50) + 0.5, pm10: (i % 50) + 1.5, pm2_5: pm25(i), relative_humidity: 40 },
    }),
  ),
);
const started = new Float64Array(N);

async function run(withRules: boolean) {
  const service = createIngestService(config, registry, log);
  Object.assign(service.writer, { sender: { send: async () => {} } });
  await service.start();
  const alerting = withRules ? createAlerting(config, registry, service.ingestor, service.spool, log) : undefined;
  await alerting?.start();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await driveIngest(service.ingestor, ids, payloads, IN_FLIGHT, (i) => {
    started[i] = performance.now();
  });
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - wall0) / 1000;
  await alerting?.engine.idle();
  // Let the last webhooks arrive before the notifier stops.
  const until = Date.now() + 5000;
  while (alerting && alerting.notifier.stats.delivered < alerting.engine.stats.transitions && Date.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  const transitions = alerting?.engine.stats.transitions ?? 0;
  await alerting?.stop();
  await service.stop();
  return { usPerMsg: (cpu.user + cpu.system) / N, msgsPerS: Math.round(N / seconds), transitions };
}

const STEPS = (process.env.BENCH_RULE_STEPS ?? `0,100,${RULES}`).split(',').map(Number);
let created = 0;
/** Adds rules up to `count`: first the one that flips (with the webhook), then quiet ones. */
async function rulesUpTo(count: number): Promise<void> {
  if (created === 0 && count > 0) {
    const loud = RuleInputSchema.parse({
      name: 'bench-0 pm2_5 high',
      quantity: 'pm2_5',
      device: 'bench-0',
      above: 100,
      notify: [{ type: 'webhook', url: hookUrl, secret: 'bench-secret-0123456789' }],
    });
    await registry.rules.create(normaliseRule(loud, 'environment', 'loud', catalogue), null);
    created++;
  }
  for (; created < count; created++) {
    // Never crossed: every reading of the device and quantity is compared with it.
    const r = created;
    const q = QUANTITIES[r % QUANTITIES.length]!;
    const input = RuleInputSchema.parse({ name: `quiet ${r}`, quantity: q, device: ids[r % DEVICES], above: 1e6 });
    await registry.rules.create(normaliseRule(input, 'environment', `quiet-${r}`, catalogue), null);
  }
}
// One unmeasured run first: without it the first measured run pays for JIT warm-up and looks the most expensive.
await run(false);
// Without the alert engine at all, then with it attached and 0, 100, … rules: the engine's fixed cost apart from
// the rules'.
const without = { rules: null, ...(await run(false)) };
const runs: Array<{ rules: number | null } & Awaited<ReturnType<typeof run>>> = [without];
for (const step of STEPS) {
  await rulesUpTo(step);
  runs.push({ rules: step, ...(await run(true)) });
}
const withRules = runs[runs.length - 1]!;

const latencies: number[] = [];
for (let i = 0; i < N; i++) {
  // The first message of each high or low stretch of bench-0 is the one that changed the alert's state.
  if (ids[i % DEVICES] !== 'bench-0' || i < DEVICES || high(i) === high(i - DEVICES)) continue;
  const at = received.get(pm25(i));
  if (at !== undefined) latencies.push(at - started[i]!);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
receiver.close();
await registry.close();
const cost = (r: { usPerMsg: number }) => Math.round((r.usPerMsg / without.usPerMsg - 1) * 1000) / 10;
const load = loadavg().map((l) => Math.round(l * 100) / 100);
console.log(
  `alerts on ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown CPU'} (load ${load.join(' ')}): ${N} messages of 4 readings each run`,
);
for (const r of runs)
  console.log(
    `  ${r.rules === null ? 'no alert engine' : `${String(r.rules).padStart(5)} rules`}: ${r.usPerMsg.toFixed(1)} µs CPU per message, ${r.msgsPerS * 4} readings/s` +
      (r.rules === null ? '' : ` (${cost(r)} % CPU per message against no alert engine)`),
  );
console.log(
  `  ${withRules.transitions} alert changes, ${latencies.length} webhooks timed: handle → webhook p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms`,
);
console.log(
  JSON.stringify({
    bench: 'alerts-path',
    messages: N,
    load_avg: load,
    runs: runs.map((r) => ({
      rules: r.rules,
      us_per_msg: Math.round(r.usPerMsg * 10) / 10,
      readings_per_s: r.msgsPerS * 4,
      cost_pct: cost(r),
    })),
    rules: created,
    us_per_msg_without: Math.round(without.usPerMsg * 10) / 10,
    us_per_msg_with: Math.round(withRules.usPerMsg * 10) / 10,
    cost_pct: cost(withRules),
    alert_changes: withRules.transitions,
    webhooks_timed: latencies.length,
    latency_ms_p50: Math.round(pct(50) * 10) / 10,
    latency_ms_p99: Math.round(pct(99) * 10) / 10,
  }),
);
process.exit(latencies.length > 0 ? 0 : 1);
