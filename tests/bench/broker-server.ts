/**
 * The platform's broker alone in its own process for `bench:broker`, so its RSS can be read from /proc and the
 * load generator does not share its event loop. Devices `bench-<i>` with password `secret-<i>`; no ingest (the
 * uplink hand-over resolves at once): the bench measures layer 1, not InfluxDB. The registry is an in-memory
 * PGlite, or PostgreSQL when BENCH_REGISTRY_URL is set (a schema of its own there). It prints one JSON line with its
 * port, and on SIGUSR2 one with its memory (process.memoryUsage) so the bench can say where the RSS goes.
 */
import { SusBroker } from '../../services/broker/index.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { hashToken, openRegistry } from '../../services/registry/index.ts';

const devices = Number(process.argv[2] ?? 1000);
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
const phases: Record<string, Record<string, number>> = {};
const note = (phase: string) => {
  const m = process.memoryUsage();
  phases[phase] = {
    rss: mb(m.rss),
    heapUsed: mb(m.heapUsed),
    heapTotal: mb(m.heapTotal),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
  };
};
note('start');
const registry = await openRegistry({
  DATABASE_URL: process.env.BENCH_REGISTRY_URL,
  SUS_DATA_DIR: 'memory://',
  SUS_DEAD_LETTER_RAW_BYTES: 1024,
});
await registry.ensureDepartment({ id: 'bench', name: 'Bench' });
for (let start = 0; start < devices; start += 1000) {
  const ids = Array.from({ length: Math.min(1000, devices - start) }, (_, k) => start + k);
  const values = ids.map((_, k) => `($${k * 2 + 1}, $${k * 2 + 1}, 'bench', 'bench', $${k * 2 + 2})`).join(', ');
  await registry.db.query(
    `INSERT INTO devices (id, name, department_id, type, secret_hash) VALUES ${values}`,
    ids.flatMap((i) => [`bench-${i}`, hashToken(`secret-${i}`)]),
  );
}
note('registry');
const broker = new SusBroker(
  registry,
  silentLogger,
  { host: '127.0.0.1', port: 0, maxPayloadBytes: 256 * 1024, maxConnections: 100_000 },
  async () => undefined,
  { lastSeen: registry, changes: registry },
);
await broker.start();
note('listening');
process.stdout.write(`${JSON.stringify({ port: broker.port, registry: registry.kind })}\n`);
process.on('SIGUSR2', () => {
  note(`clients:${broker.connectedClients}`);
  process.stdout.write(`${JSON.stringify({ memory: phases })}\n`);
});
process.on('SIGTERM', () => {
  void broker
    .stop()
    .then(() => registry.close())
    .finally(() => process.exit(0));
});
