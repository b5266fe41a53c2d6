import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { connectAsync, type MqttClient } from 'mqtt';
import { adminQuery, withSearchPath } from '../helpers/pg.ts';
import { provisionBenchDevices } from './broker-provision.ts';
import { procStats } from './proc-stats.ts';

const N = Number(process.env.N ?? 10000);
const base = process.env.TEST_DATABASE_URL!;
const schema = `sus_probe_${randomBytes(4).toString('hex')}`;
await adminQuery(base, `CREATE SCHEMA ${schema}`);
const url = withSearchPath(base, schema);
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sus-probe-'));
await provisionBenchDevices({ DATABASE_URL: url, SUS_DATA_DIR: dataDir }, N);
const env = { ...process.env, SUS_DATA_DIR: dataDir, SUS_MQTT_HOST: '127.0.0.1', SUS_MQTT_PORT: '0', SUS_LOG_JSON: '1', LOG_LEVEL: 'info', SUS_ADMIN_KEY: `probe-${randomBytes(20).toString('hex')}`, DATABASE_URL: url, NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/h-broker5' };
delete (env as Record<string, unknown>).REDIS_URL;
const child = spawn(process.execPath, ['--max-semi-space-size=64', '--cpu-prof', '--cpu-prof-dir=/tmp/h-broker5', 'bin/sus.mjs', 'broker'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((res) => createInterface({ input: child.stdout! }).on('line', (l) => { const m = /mqtt:\/\/localhost:(\d+)/.exec(l); if (m) res(Number(m[1])); }));
const rss = () => Math.round(procStats(child.pid!).rssMb);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const snap = async (label: string) => {
  const before = (await readdir('/tmp/h-broker5')).length;
  child.kill('SIGUSR2');
  while ((await readdir('/tmp/h-broker5')).length === before) await sleep(200);
  await sleep(3000);
  console.log(label, 'rss after snapshot(GC)', rss());
};
async function stormOnce(r: number) {
  const clients: MqttClient[] = new Array(N);
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 500 }, async () => { while (next < N) { const i = next++; clients[i] = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: `bench-${i}`, password: `secret-${i}`, clientId: `bench-${i}`, reconnectPeriod: 0, keepalive: 600, connectTimeout: 60000 }, false); } }));
  console.log(`round ${r}: ${(Date.now() - t0) / 1000}s rss ${rss()}`);
  if (process.env.SNAP_CONNECTED === String(r)) await snap(`round ${r} connected`);
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await sleep(5000);
  console.log(`round ${r} closed: rss ${rss()}`);
}
console.log('idle', rss());
await stormOnce(1);

if (process.env.ROUNDS === '2') await stormOnce(2);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await adminQuery(base, `DROP SCHEMA ${schema} CASCADE`);
