/**
 * bench:ingest-path — the ingest path alone, no broker and no InfluxDB: Ingestor.handle → durable spool (real files,
 * fdatasync) → drainer whose sender drops the body. 200,000 canonical messages of 4 readings from 20 devices, 2,000
 * in flight. It isolates what layer 2 costs per message from what Aedes costs (bench:ingest measures both together)
 * and is the quickest loop for profiling (`node --cpu-prof`). Ends with one JSON line.
 */
import { availableParallelism, cpus } from 'node:os';
import { loadConfig } from '../../services/common/config.ts';
import { createLogger } from '../../services/common/logger.ts';
import { createIngestService } from '../../services/ingest/index.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { driveIngest } from './ingest-driver.ts';

const N = Number(process.env.BENCH_MESSAGES ?? 200_000);
const IN_FLIGHT = 2000;
const DEVICES = 20;

const config = loadConfig({
  ...process.env,
  // Never contacted: the drainer's sender is replaced below.
  INFLUX_URL: 'http://127.0.0.1:9',
  SUS_DATA_DIR: 'memory://',
  DATABASE_URL: '',
  SUS_ADMIN_KEY: 'sus_bench_ingest_path_key_0123456789',
  LOG_LEVEL: 'warn',
});
const registry = await openRegistry(config);
await registry.createDepartment({ id: 'environment', name: 'Environment' });
const ids: string[] = [];
for (let d = 0; d < DEVICES; d++) {
  const { device } = await registry.createDevice({
    id: `bench-${d}`,
    name: `bench ${d}`,
    department: 'environment',
    type: 'air_quality',
  });
  ids.push(device.id);
}
const service = createIngestService(config, registry, createLogger('warn', 'bench'));
// InfluxDB is out of the picture: what is measured ends where the HTTP request would start.
Object.assign(service.writer, { sender: { send: async () => {} } });
await service.start();

const t0 = Date.now() - 900_000;
const payloads = Array.from({ length: N }, (_, i) =>
  Buffer.from(
    JSON.stringify({
      time: t0 + i,
      seq: i,
      values: {
        air_temperature: (i % 50) + 0.5,
        pm10: (i % 50) + 1.5,
        pm2_5: (i % 50) + 2.5,
        relative_humidity: (i % 50) + 3.5,
      },
    }),
  ),
);
const cpu0 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const wall0 = performance.now();
await driveIngest(service.ingestor, ids, payloads, IN_FLIGHT);
const cpu = process.cpuUsage(cpu0);
// The main thread's busy time: the process CPU also counts libuv's and V8's helper threads.
const mainUs = performance.eventLoopUtilization(elu0).active * 1000;
const seconds = (performance.now() - wall0) / 1000;
const stored = service.ingestor.stats.readings;
await service.stop();
await registry.close();
const usPerMsg = (cpu.user + cpu.system) / N;
const mainUsPerMsg = mainUs / N;
console.log(
  `ingest path on ${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown CPU'}: ` +
    `${N} messages, ${usPerMsg.toFixed(1)} µs CPU per message (${mainUsPerMsg.toFixed(1)} µs busy on the main thread), ` +
    `${Math.round(N / seconds)} msg/s, ${stored} readings spooled`,
);
console.log(
  JSON.stringify({
    bench: 'ingest-path',
    us_per_msg: Math.round(usPerMsg * 10) / 10,
    main_thread_us_per_msg: Math.round(mainUsPerMsg * 10) / 10,
    msgs_per_s: Math.round(N / seconds),
    readings: stored,
    messages: N,
  }),
);
process.exit(stored === N * 4 ? 0 : 1);
