import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { influxString } from '../../services/common/influx.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { deviceTopic } from '../../services/common/topics.ts';
import type { Uplink } from '../../services/common/uplink.ts';
import type { IngestResult } from '../../services/ingest/index.ts';
import { eventually, testConfig } from '../helpers/env.ts';
import { publishAcked } from '../helpers/mqtt-publish.ts';
import { afterLogin, beforeLogin, type Credentials, type RawOutcome, rawExchange } from './mqtt-packets.ts';
import { ackPayload, type FuzzDevices, type PayloadCase, payloadFor, UPLINK_CHANNELS } from './mqtt-payloads.ts';
import { fuzzSettings, Rng } from './rng.ts';

const { seed: SEED, rounds: ROUNDS } = fuzzSettings(18);
const PAYLOADS = 5000 * ROUNDS;
const RAW_CONNECTIONS = 300 * ROUNDS;
const MAX_PAYLOAD = 64 * 1024;

interface Outcome {
  uplink: Uplink;
  result: IngestResult;
}

/** What to run to see the message again: its topic, bytes, and the same pipeline through the CLI decoder. */
function reproduce(c: { device: string; channel: string; payload: Buffer }): string {
  const format = c.channel === 'up' ? 'canonical' : c.channel.slice(3);
  const escaped = [...c.payload]
    .map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
  const shown = escaped.length > 1500 ? `${escaped.slice(0, 1500)}…` : escaped;
  return `topic sus/v1/devices/${c.device}/${c.channel}; printf '%b' '${shown}' | npx sus decode --format ${format} --device ${c.device}`;
}

describe('MQTT fuzz: seeded payloads on every uplink channel and raw packets through the real broker', () => {
  let platform: Platform;
  let port: number;
  const devices: FuzzDevices = { plain: 'fz-dev', devEui: '0011223344556677', esp: 'esp8266-12345' };
  const secrets = new Map<string, string>();
  const outcomes: Outcome[] = [];
  const stored = new Set<string>();
  const clients = new Map<string, MqttClient>();

  beforeAll(async () => {
    platform = await startPlatform(
      testConfig({
        SUS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
        // Raw logins with wrong passwords must not lock the fuzz devices out: the throttle has its own tests.
        SUS_MQTT_AUTH_FREE_FAILURES: '1000000',
        SUS_MQTT_AUTH_MAX_FAILURES: '1000000',
        SUS_MQTT_AUTH_ADDRESS_FREE_FAILURES: '1000000',
        SUS_SELF_METRICS_INTERVAL_S: '3600',
      }),
      silentLogger,
      { broker: true, api: false },
    );
    port = platform.mqttPort!;
    await platform.registry.ensureDepartment({ id: 'environment', name: 'Environment' });
    for (const id of Object.values(devices)) {
      const { secret } = await platform.registry.createDevice({
        id,
        name: id,
        department: 'environment',
        type: 'air_quality',
        district: 'Nord',
      });
      secrets.set(id, secret);
    }
    // Observe the real pipeline: every message's outcome, every reading it stored.
    const ingestor = platform.ingest!.ingestor;
    const handle = ingestor.handle.bind(ingestor);
    ingestor.handle = async (u, opts) => {
      const result = await handle(u, opts);
      outcomes.push({ uplink: u, result });
      return result;
    };
    ingestor.on('readings', (readings, tags) => {
      for (const r of readings) stored.add(`${r.quantity}|${tags.device}|${r.time}`);
    });
    // Starting a whole platform while the rest of the suite starts too took over a minute on the shared machine.
  }, 180_000);
  afterAll(async () => {
    for (const c of clients.values()) await c.endAsync(true).catch(() => undefined);
    await platform?.stop();
  });

  const connecting = new Map<string, Promise<MqttClient>>();
  /** One connection per device (a second one with the same client id would take the session over). */
  const client = (device: string): Promise<MqttClient> => {
    const c = clients.get(device);
    if (c?.connected) return Promise.resolve(c);
    let pending = connecting.get(device);
    if (!pending) {
      pending = connectAsync(`mqtt://127.0.0.1:${port}`, {
        username: device,
        password: secrets.get(device)!,
        clientId: device,
        reconnectPeriod: 0,
      }).then((fresh) => {
        fresh.setMaxListeners(0);
        clients.set(device, fresh);
        connecting.delete(device);
        return fresh;
      });
      connecting.set(device, pending);
    }
    return pending;
  };

  it(`ends each of ≥ ${PAYLOADS} seeded payloads (seed ${SEED}) as readings or a dead letter, and every ack as a record`, async () => {
    const rng = new Rng(SEED);
    const now = Date.now();
    const natural: Record<string, string> = { 'up/chirpstack': devices.devEui, 'up/sensor-community': devices.esp };
    const cases: PayloadCase[] = [];
    for (let i = 0; i < PAYLOADS; i++) {
      const r = rng.fork(i);
      const ack = r.chance(0.06);
      const channel = ack ? 'ack' : r.pick(UPLINK_CHANNELS);
      const device = r.chance(0.85) ? (natural[channel] ?? devices.plain) : r.pick(Object.values(devices));
      const { payload, what } = ack
        ? { payload: ackPayload(r), what: 'ack' }
        : payloadFor(channel, devices, r, now, MAX_PAYLOAD);
      cases.push({ device, channel, payload, what });
    }
    const refused: string[] = [];
    let acked = 0;
    let ackedAcks = 0;
    const started = performance.now();
    const cpu = process.cpuUsage();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const topic = `sus/v1/devices/${c.device}/${c.channel}`;
        try {
          await publishAcked(await client(c.device), topic, c.payload);
          if (c.channel === 'ack') ackedAcks++;
          else acked++;
        } catch (err) {
          // A payload within the limits on the device's own topic must be acknowledged, not cut off.
          refused.push(`${c.what}: ${(err as Error).message}\n  ${reproduce(c)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const used = process.cpuUsage(cpu);
    const cpuSeconds = ((used.user + used.system) / 1e6).toFixed(1);
    const byChannel: Record<string, number> = {};
    for (const c of cases) byChannel[c.channel] = (byChannel[c.channel] ?? 0) + 1;
    console.log(
      `MQTT fuzz: ${cases.length} payloads in ${seconds} s, ${cpuSeconds} s CPU of this process (seed ${SEED}); ` +
        `by channel ${JSON.stringify(byChannel)}`,
    );
    expect(refused.slice(0, 5), `${refused.length} allowed publish(es) refused`).toStrictEqual([]);

    // received = stored + dead-lettered, message by message: none ends as neither.
    expect(outcomes.length).toBe(acked);
    const lost = outcomes.filter((o) => o.result.accepted === 0 && o.result.deadLetterId === undefined);
    expect(
      lost
        .slice(0, 5)
        .map((o) => `${JSON.stringify(o.result.rejected).slice(0, 300)}\n  ${reproduce({ ...o.uplink })}`),
      `${lost.length} message(s) ended as neither readings nor a dead letter`,
    ).toStrictEqual([]);
    const deadLetterIds = new Set(
      outcomes.flatMap((o) => (o.result.deadLetterId === undefined ? [] : [o.result.deadLetterId])),
    );
    const accepted = outcomes.reduce((n, o) => n + o.result.accepted, 0);
    const stats = platform.ingest!.ingestor.stats;
    // A device's rejects beyond SUS_DEAD_LETTER_RATE share one summary row: every rejecting message is counted
    // once, as a row of its own or into its device's summary.
    const rejecting = outcomes.filter((o) => o.result.deadLetterId !== undefined).length;
    expect([stats.messages, stats.readings, stats.deadLetters + stats.deadLettersSuppressed]).toStrictEqual([
      acked,
      accepted,
      rejecting,
    ]);

    // The registry holds exactly those dead letters, none filed as an internal error, and every acknowledged ack.
    const db = platform.registry.db;
    const [dl] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dead_letters');
    const internal = await db.query<{ id: number; reasons: unknown }>(
      `SELECT id, reasons FROM dead_letters WHERE reasons::text LIKE '%internal error%' LIMIT 5`,
    );
    const [acks] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_acks');
    expect([dl?.n, internal, acks?.n]).toStrictEqual([deadLetterIds.size, [], ackedAcks]);

    // InfluxDB holds every distinct stored reading (same series and time overwrite each other) and refused none.
    const measurements = [...new Set([...stored].map((k) => k.split('|')[0]!))];
    const count = async () => {
      if (measurements.length === 0) return 0;
      const series = (
        await platform.influx.query(
          `SELECT count("value") FROM ${measurements.map((m) => `"${m}"`).join(',')} WHERE "device" = ${influxString(devices.plain)} OR "device" = ${influxString(devices.devEui)} OR "device" = ${influxString(devices.esp)}`,
        )
      )[0];
      return (series ?? []).reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0);
    };
    await eventually(count, (n) => n === stored.size, 60_000);
    expect(platform.ingest!.writer.stats.refused).toBe(0);
  }, 240_000);

  it(`survives ${RAW_CONNECTIONS * 2} raw connections of random and damaged packets before and after login`, async () => {
    const rng = new Rng(SEED + 1);
    const creds: Credentials = { device: devices.plain, password: secrets.get(devices.plain)! };
    const before: Array<{ what: string; o: RawOutcome }> = [];
    const after: Array<{ what: string; o: RawOutcome }> = [];
    const jobs = Array.from({ length: RAW_CONNECTIONS * 2 }, (_, i) => {
      const r = rng.fork(i);
      return i % 2 === 0
        ? async () => {
            const c = beforeLogin(r, creds);
            before.push({ what: c.what, o: await rawExchange(port, c.bytes) });
          }
        : async () => {
            const c = afterLogin(r, creds, MAX_PAYLOAD);
            after.push({ what: c.what, o: await rawExchange(port, c.bytes, creds) });
          };
    });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < jobs.length) await jobs[next++]!();
      }),
    );
    console.log(
      `MQTT raw fuzz: ${jobs.length} connections in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `answered ${[...before, ...after].filter((x) => x.o.answered).length}`,
    );
    // The broker answered or hung up on every one of them: none was left open.
    const hung = [...before, ...after].filter((x) => !x.o.closed).map((x) => x.what);
    expect(hung).toStrictEqual([]);
    // Every message a raw connection got in still ended as readings or a dead letter.
    const lost = outcomes.filter((o) => o.result.accepted === 0 && o.result.deadLetterId === undefined);
    expect(lost.slice(0, 5).map((o) => reproduce(o.uplink))).toStrictEqual([]);

    // Healthy afterwards: no leaked sessions, and a plain reading still goes all the way to InfluxDB.
    for (const c of clients.values()) await c.endAsync(true).catch(() => undefined);
    clients.clear();
    await eventually(
      async () => platform.broker!.connectedClients,
      (n) => n === 0,
      10_000,
    );
    const marker = Date.now() - 1234;
    await publishAcked(
      await client(devices.plain),
      deviceTopic.up(devices.plain),
      JSON.stringify({ time: marker, values: { air_temperature: 21.5 } }),
    );
    await eventually(
      async () =>
        (await platform.influx.query(`SELECT "value" FROM "air_temperature" WHERE time = ${marker}ms`))[0] ?? [],
      (s) => s.length === 1,
      30_000,
    );
  }, 120_000);
});
