import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/env.ts';
import { freshSchema } from '../helpers/postgres.ts';
import { prepareBroker, type SusProcess, startSus, upOrFail } from '../helpers/sus-process.ts';

/**
 * `sus broker` runs out of file descriptors (EMFILE) while a device publishes with QoS 1: a process under a low
 * `ulimit -n`, its descriptors taken by idle TCP connections. The spool cannot open new segment files meanwhile;
 * it must keep acknowledging what it stores, and carry on normally once descriptors are free again, without a
 * restart and without losing a reading.
 */
const MAX_OPEN_FILES = 256;
const DEVICE = 'aq-emfile-1';

// The registry in PostgreSQL: the embedded one would compete for the few descriptors the test leaves the process.
const noPostgres = process.env.TEST_DATABASE_URL ? undefined : 'TEST_DATABASE_URL is unset (npm test sets it)';
if (noPostgres) console.warn(`EMFILE test skipped: ${noPostgres}`);

describe.skipIf(noPostgres !== undefined)('EMFILE: the broker process runs out of file descriptors', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sus-emfile-'));
  const sockets: net.Socket[] = [];
  let broker: SusProcess | undefined;
  let client: MqttClient | undefined;
  let dropSchema = async () => {};
  let exhausting = false;
  let exhaust: Promise<void> = Promise.resolve();
  afterAll(async () => {
    exhausting = false;
    await exhaust;
    for (const s of sockets) s.destroy();
    await client?.endAsync(true);
    await broker?.stop();
    await dropSchema();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps acknowledging and storing while new spool segments cannot be opened, and rolls over again afterwards', async () => {
    const schema = await freshSchema();
    dropSchema = schema!.drop;
    const { secret, influx, env } = await prepareBroker({
      dataDir,
      databaseUrl: schema!.url,
      device: { id: DEVICE, name: 'emfile test' },
    });
    broker = startSus(
      ['broker'],
      {
        ...env,
        SUS_WRITE_FLUSH_MS: '50',
        SUS_SELF_METRICS_INTERVAL_S: '3600',
        // A new segment file every 4 KiB: the spool needs new files all the time.
        SUS_SPOOL_SEGMENT_BYTES: '4096',
      },
      { maxOpenFiles: MAX_OPEN_FILES },
    );
    const port = await upOrFail(broker);
    const pid = broker.child.pid!;
    const openFiles = () => {
      try {
        return readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        return Number.POSITIVE_INFINITY; // the process is gone
      }
    };

    client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: DEVICE,
      username: DEVICE,
      password: secret,
      reconnectPeriod: 200,
    });
    client.on('error', () => {});
    const t0 = Date.now() - 3_600_000;
    const acked = new Set<number>();
    const publish = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const payload = JSON.stringify({ time: t0 + i, values: { pm10: i % 50, pm2_5: i % 30 } });
        client!.publish(`sus/v1/devices/${DEVICE}/up`, payload, { qos: 1 }, (err) => {
          if (!err) acked.add(i);
        });
      }
    };
    publish(0, 100);
    await eventually(
      async () => acked.size,
      (n) => n === 100,
    );

    // Idle connections until the process has no descriptor left (libuv then accepts and closes further ones); kept
    // topped up, as descriptors the process frees meanwhile (idle pool connections) would otherwise let it breathe.
    exhausting = true;
    exhaust = (async () => {
      while (exhausting) {
        if (openFiles() < MAX_OPEN_FILES) {
          for (let k = 0; k < 8; k++) {
            const socket = net.connect({ port, host: '127.0.0.1' });
            socket.on('error', () => {});
            sockets.push(socket);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await eventually(
      async () => openFiles(),
      (n) => n >= MAX_OPEN_FILES,
    );
    publish(100, 400);
    await eventually(
      async () => acked.size,
      (n) => n === 400,
      20_000,
    );
    const log = () => broker!.log().join('\n');
    expect(log()).toContain('cannot start a new spool segment; the current one is used until a new one can be created');
    expect(log()).toContain('EMFILE');

    exhausting = false;
    await exhaust;
    for (const s of sockets.splice(0)) s.destroy();
    publish(400, 500);
    await eventually(
      async () => acked.size,
      (n) => n === 500,
    );
    const stored = async () => {
      const counts = [];
      for (const q of ['pm10', 'pm2_5']) {
        const [series = []] = await influx.query(`SELECT count("value") FROM "${q}" WHERE "device" = '${DEVICE}'`);
        counts.push(Number(series[0]?.values[0]?.[1] ?? 0));
      }
      return counts;
    };
    await eventually(stored, ([a, b]) => a === 500 && b === 500, 20_000);
    expect(log()).toContain('new spool segment started again');
    expect(await broker.stop()).toBe(0);
  }, 90_000);
});
