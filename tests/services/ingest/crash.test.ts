import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';
import { prepareBroker, type SusProcess, startSus, upOrFail } from '../../helpers/sus-process.ts';

const DEVICE = 'aq-crash-1';
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;
/** Within every quantity's plausible range, and different per message and quantity. */
const readingValue = (i: number, k: number) => (i % 60) + k / 10 + Math.floor(i / 60) / 1000;

/** `sus broker` as a child process (broker + in-process ingest), resolved once it listens for MQTT. */
async function startBroker(env: Record<string, string>): Promise<SusProcess & { port: number }> {
  const p = startSus(['broker'], env);
  return Object.assign(p, { port: await upOrFail(p) });
}

describe('crash: the platform is killed with SIGKILL during a QoS 1 stream', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sus-crash-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
  });

  it('has every reading whose PUBACK the device received in InfluxDB after the restart', async () => {
    // The registry in PostgreSQL (a schema of its own) where there is one: it starts faster than the embedded one.
    const schema = await freshSchema();
    const { secret, influx, env } = await prepareBroker({
      dataDir,
      databaseUrl: schema?.url,
      device: { id: DEVICE, name: 'crash test', district: 'Mitte' },
    });
    // First life: InfluxDB writes are held back (huge batch, long linger), so what InfluxDB has after the restart
    // can only have come through the on-disk spool.
    const first = await startBroker({ ...env, SUS_WRITE_BATCH_SIZE: '10000000', SUS_WRITE_FLUSH_MS: '600000' });
    children.push(first.child);
    const client: MqttClient = await connectAsync(`mqtt://127.0.0.1:${first.port}`, {
      clientId: DEVICE,
      username: DEVICE,
      password: secret,
      reconnectPeriod: 0,
    });
    client.on('error', () => {}); // the connection dies with the broker; that is the point

    const t0 = Date.now() - 3_600_000;
    const acked = new Set<number>();
    let next = 0;
    let killed = false;
    await new Promise<void>((resolve) => {
      const publishOne = () => {
        if (killed) return;
        const i = next++;
        const values = Object.fromEntries(QUANTITIES.map((q, k) => [q, readingValue(i, k)]));
        client.publish(`sus/v1/devices/${DEVICE}/up`, JSON.stringify({ time: t0 + i, values }), { qos: 1 }, (err) => {
          if (err || killed) return;
          acked.add(i);
          // Kill mid-stream: 200 messages still in flight, a steady stream behind them.
          if (acked.size === 1500) {
            killed = true;
            first.child.kill('SIGKILL');
            resolve();
            return;
          }
          publishOne();
        });
      };
      for (let k = 0; k < 200; k++) publishOne();
    });
    const ackedAtKill = [...acked];
    await first.exited;
    client.end(true);

    const timesOf = async (q: string) => {
      const [series = []] = await influx.query(`SELECT "value" FROM "${q}" WHERE "device" = '${DEVICE}'`);
      return new Map((series[0]?.values ?? []).map(([t, v]) => [Number(t) - t0, v as number]));
    };
    expect((await timesOf('pm10')).size).toBe(0);

    const second = await startBroker({ ...env, SUS_WRITE_FLUSH_MS: '50' });
    children.push(second.child);
    try {
      await eventually(
        async () => (await timesOf('relative_humidity')).size,
        (n) => n >= ackedAtKill.length,
        30_000,
      );
      for (const [k, q] of QUANTITIES.entries()) {
        const stored = await timesOf(q);
        const missing = ackedAtKill.filter((i) => stored.get(i) !== readingValue(i, k));
        expect(missing, `${q}: acknowledged but not stored`).toStrictEqual([]);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await influx.query(`DROP DATABASE "${env.INFLUX_DB}"`, 'POST');
      await schema?.drop();
    }
  }, 90_000);
});
