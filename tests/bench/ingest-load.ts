/**
 * Load generator of bench:ingest, run as its own process (forked with an IPC channel) so its CPU is not counted
 * against the pipeline under test. Devices publish QoS 1 canonical messages (4 readings each), each keeping
 * `inFlight` publishes outstanding; times are epoch ms (performance.timeOrigin based) so the parent can compare them
 * with its own clock.
 */
import { connectAsync } from 'mqtt';
import { RawPublisher } from './raw-publisher.ts';

export interface LoadRequest {
  port: number;
  devices: Array<{ id: string; secret: string }>;
  messages: number;
  inFlight: number;
  quantities: readonly string[];
  /** `raw`: the lean publisher of raw-publisher.ts; `mqttjs`: mqtt.js (costs more CPU than the pipeline itself). */
  client: 'raw' | 'mqttjs';
  /**
   * One device's quantity switching between `low` and `high` every `every` of its own messages (bench:alerts: an alert
   * fires and resolves). Each value is made unique (+ message index / messages) so a notification names its message.
   */
  flip?: { device: string; quantity: string; every: number; low: number; high: number };
}

/** A flip message: the first of a stretch, the one that changes the alert's state. */
export interface FlipMark {
  value: number;
  published: number;
}

interface Publisher {
  publish(topic: string, payload: Buffer, onAck: (err?: Error) => void): void;
  end(): Promise<void>;
}

async function connect(req: LoadRequest, d: { id: string; secret: string }): Promise<Publisher> {
  if (req.client === 'raw') {
    const p = new RawPublisher({ port: req.port, clientId: d.id, username: d.id, password: d.secret });
    await p.connect();
    return p;
  }
  const c = await connectAsync(`mqtt://127.0.0.1:${req.port}`, {
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 0,
  });
  return {
    publish: (topic, payload, onAck) => c.publish(topic, payload, { qos: 1 }, (err) => onAck(err ?? undefined)),
    end: () => c.endAsync(true),
  };
}

export interface LoadResult {
  type: 'done';
  start: number;
  /** Publish time of message i. */
  published: number[];
  /** Message indexes in PUBACK order. */
  ackOrder: number[];
  pubackMs: number[];
  /** CPU seconds of this generator process (connects excluded). */
  cpuS: number;
  flips: FlipMark[];
}

const now = () => performance.timeOrigin + performance.now();

async function run(req: LoadRequest): Promise<LoadResult> {
  const clients: Publisher[] = [];
  for (const d of req.devices) clients.push(await connect(req, d));
  process.send?.({ type: 'connected' });
  const t0 = Date.now() - 900_000;
  // Encoded before the clock starts: the generator's CPU should go to the wire, not to building messages.
  const payloads = Array.from({ length: req.messages }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        time: t0 + i,
        seq: i,
        values: Object.fromEntries(req.quantities.map((q, k) => [q, (i % 50) + k + 0.5])),
      }),
    ),
  );
  const published = new Array<number>(req.messages).fill(0);
  const ackOrder: number[] = [];
  const pubackMs: number[] = [];
  const topics = new Map(req.devices.map((d) => [d.id, `sus/v1/devices/${d.id}/up`]));
  const flips: FlipMark[] = [];
  const { flip } = req;
  let flipCount = 0;
  /** The flip device's payload, built at publish time: which device sends message i is known only then. */
  const flipPayload = (i: number, at: number): Buffer => {
    if (!flip) return payloads[i]!;
    const stretch = Math.floor(flipCount / flip.every);
    const value = (stretch % 2 === 1 ? flip.high : flip.low) + i / req.messages;
    if (flipCount > 0 && flipCount % flip.every === 0) flips.push({ value, published: at });
    flipCount++;
    const message = JSON.parse(payloads[i]!.toString()) as { values: Record<string, number> };
    message.values[flip.quantity] = value;
    return Buffer.from(JSON.stringify(message));
  };
  let next = 0;
  const start = now();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let outstanding = 0;
    const publishOne = (client: Publisher, device: string) => {
      const i = next++;
      if (i >= req.messages) {
        if (outstanding === 0) resolve();
        return;
      }
      outstanding++;
      published[i] = now();
      const payload = device === flip?.device ? flipPayload(i, published[i]) : payloads[i]!;
      client.publish(topics.get(device)!, payload, (err) => {
        outstanding--;
        if (!err) {
          pubackMs.push(now() - published[i]!);
          ackOrder.push(i);
        }
        publishOne(client, device);
      });
    };
    clients.forEach((c, k) => {
      for (let w = 0; w < req.inFlight; w++) publishOne(c, req.devices[k]!.id);
    });
  });
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.end()));
  return { type: 'done', start, published, ackOrder, pubackMs, cpuS: (cpu.user + cpu.system) / 1e6, flips };
}

process.once('message', (req: LoadRequest) => {
  run(req).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
