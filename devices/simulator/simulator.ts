/**
 * FleetSimulator: one real MQTT client per device publishing canonical readings.
 *
 * Lifecycle: the constructor only takes options; `start()` ramps up the connections (bounded
 * concurrency) and starts the per-device timers; `stop()` clears the timers, waits (bounded)
 * for in-flight QoS 1 publishes to be acknowledged and ends every client. Errors from
 * connecting or publishing are logged and counted, never thrown out of a timer.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { type Logger, pino } from 'pino';
import { DEVICE_TYPES, type DeviceTypeSpec, isDeviceTypeId } from './device-types.ts';
import { DeviceFaults, type FaultOptions, malformedPayload } from './faults.ts';
import { canonical, type SimReading, senml } from './formats.ts';
import { hashSeed, mulberry32, type Rng } from './rng.ts';
import { createDeviceState, type DeviceState, sampleReading } from './signal.ts';

/** `sus/v1/devices/{deviceId}/up` */
export function upTopic(deviceId: string): string {
  return `sus/v1/devices/${deviceId}/up`;
}

/** A device the simulator plays: its credentials and its type (a `DEVICE_TYPES` key). */
export interface SimDevice {
  id: string;
  secret: string;
  type: string;
}

export interface SimStats {
  /** Devices configured. */
  devices: number;
  /** Clients currently connected to the broker. */
  connected: number;
  /** Readings handed to the MQTT client. */
  sent: number;
  /** Readings acknowledged by the broker (PUBACK). */
  acked: number;
  /** Failed connect attempts plus failed publishes. */
  failed: number;
  /** Acknowledged readings per second over the last few seconds. */
  ratePerS: number;
  /** Fault injection: malformed payloads sent, duplicate publishes, readings delivered late in backlog batches. */
  malformed: number;
  duplicates: number;
  backlogged: number;
}

export interface FleetSimulatorOptions {
  mqttUrl: string;
  devices: SimDevice[];
  /** Each device publishes one reading per interval. */
  intervalMs: number;
  logger?: Logger;
  /** Connections opened at the same time while ramping up (default 16). */
  connectConcurrency?: number;
  /**
   * true (default): every device gets a random phase within the interval, so the fleet's
   * messages spread evenly; false: all devices publish on the interval's boundaries.
   */
  jitter?: boolean;
  /** Called about once a second while running, and once after `stop()`. */
  onProgress?: (s: SimStats) => void;
  /** Stop publishing after this many readings in total (see `whenDone()`). */
  maxMessages?: number;
  /** Seed of the signal generators (default: derived from the start time). */
  seed?: number;
  /** Upper bound of `stop()` waiting for acks and clean disconnects (default 5000 ms). */
  stopTimeoutMs?: number;
  /** First `seq` is this + 1 (default: epoch seconds, so seq keeps increasing across runs). */
  seqStart?: number;
  /** Fault injection (default: none). */
  faults?: FaultOptions;
  /** MQTT payload format: canonical JSON on `…/up` (default) or SenML on `…/up/senml`. */
  format?: 'canonical' | 'senml';
  /** Sees every message handed to the MQTT client (tests compare it with what the platform stored). */
  onPublish?: (m: { device: string; topic: string; payload: string; malformed: boolean }) => void;
}

interface DeviceRuntime {
  readonly device: SimDevice;
  readonly type: DeviceTypeSpec;
  readonly state: DeviceState;
  readonly rng: Rng;
  seq: number;
  client: MqttClient | undefined;
  connectAttempts: number;
  faults: DeviceFaults | undefined;
  /** Readings withheld while the device plays offline; sent as one batch when it is back. */
  backlog: SimReading[];
  timers: Set<NodeJS.Timeout>;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_RETRY_DELAY_MS = 30_000;
const RATE_WINDOW_MS = 5_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves when `p` settles or after `ms`, whichever is first; true if `p` settled. */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  await Promise.race([
    p.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    ),
    delay(Math.max(0, ms)),
  ]);
  return settled;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class FleetSimulator {
  private readonly mqttUrl: string;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly jitter: boolean;
  private readonly onProgress: ((s: SimStats) => void) | undefined;
  private readonly maxMessages: number | undefined;
  private readonly stopTimeoutMs: number;
  private readonly runtimes: DeviceRuntime[];

  private sent = 0;
  private acked = 0;
  private failed = 0;
  private malformed = 0;
  private duplicates = 0;
  private backlogged = 0;
  private readonly format: 'canonical' | 'senml';
  private readonly onPublish: FleetSimulatorOptions['onPublish'];
  private startedAt = 0;
  private rateSamples: Array<{ t: number; acked: number }> = [];
  private progressTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pendingConnects = new Set<Promise<void>>();
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private stopping = false;
  private resolveDone!: () => void;
  private readonly done: Promise<void>;

  constructor(options: FleetSimulatorOptions) {
    if (!options.mqttUrl) throw new Error('FleetSimulator: mqttUrl is required');
    if (!Number.isFinite(options.intervalMs) || options.intervalMs <= 0) {
      throw new RangeError(`FleetSimulator: intervalMs must be > 0, got ${options.intervalMs}`);
    }
    const concurrency = options.connectConcurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`FleetSimulator: connectConcurrency must be a positive integer, got ${concurrency}`);
    }
    if (options.maxMessages !== undefined && !(options.maxMessages >= 0)) {
      throw new RangeError(`FleetSimulator: maxMessages must be >= 0, got ${options.maxMessages}`);
    }
    const seen = new Set<string>();
    for (const d of options.devices) {
      if (seen.has(d.id)) throw new Error(`FleetSimulator: duplicate device id ${d.id}`);
      seen.add(d.id);
      if (!isDeviceTypeId(d.type)) {
        throw new Error(
          `FleetSimulator: device ${d.id} has unknown type ${d.type} (known: ${Object.keys(DEVICE_TYPES).join(', ')})`,
        );
      }
    }
    this.mqttUrl = options.mqttUrl;
    this.intervalMs = options.intervalMs;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.concurrency = concurrency;
    this.jitter = options.jitter ?? true;
    this.onProgress = options.onProgress;
    this.maxMessages = options.maxMessages;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
    const seed = options.seed ?? Date.now() % 0x1_0000_0000;
    const seqStart = options.seqStart ?? Math.floor(Date.now() / 1000);
    this.runtimes = options.devices.map((device) => ({
      device,
      type: DEVICE_TYPES[device.type as keyof typeof DEVICE_TYPES],
      state: createDeviceState(),
      rng: mulberry32((hashSeed(device.id) ^ seed) >>> 0),
      seq: seqStart,
      client: undefined,
      connectAttempts: 0,
      // Its own rng stream: turning faults on must not change the signal values a seed produces.
      faults:
        options.faults && new DeviceFaults(options.faults, mulberry32((hashSeed(`${device.id}#faults`) ^ seed) >>> 0)),
      backlog: [],
      timers: new Set(),
    }));
    this.format = options.format ?? 'canonical';
    this.onPublish = options.onPublish;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /**
   * Connects all devices (at most `connectConcurrency` at a time) and starts publishing.
   * Resolves once every device has had its first connection attempt; devices that failed
   * are retried in the background with backoff. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('FleetSimulator: start() after stop()'));
    this.startPromise ??= this.run();
    return this.startPromise;
  }

  /**
   * Stops publishing, waits up to `stopTimeoutMs` for outstanding acks, and disconnects every
   * client. Idempotent: later calls return the same promise. Never rejects.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.shutdown();
    return this.stopPromise;
  }

  /** Resolves after `maxMessages` readings were sent and settled, or after `stop()`. */
  whenDone(): Promise<void> {
    return this.done;
  }

  stats(): SimStats {
    return {
      devices: this.runtimes.length,
      connected: this.runtimes.filter((rt) => rt.client?.connected === true).length,
      sent: this.sent,
      acked: this.acked,
      failed: this.failed,
      ratePerS: this.rate(),
      malformed: this.malformed,
      duplicates: this.duplicates,
      backlogged: this.backlogged,
    };
  }

  // -------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    this.startedAt = Date.now();
    this.progressTimer = setInterval(() => this.progress(), 1000);
    this.progressTimer.unref();
    this.log.info(
      { devices: this.runtimes.length, intervalMs: this.intervalMs, url: this.mqttUrl },
      'fleet simulator starting',
    );
    let next = 0;
    const worker = async () => {
      while (!this.stopping && next < this.runtimes.length) {
        const rt = this.runtimes[next++];
        if (rt) await this.connect(rt);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, this.runtimes.length) }, worker));
    if (!this.stopping) this.log.info(this.stats(), 'fleet simulator ramp-up complete');
  }

  private connect(rt: DeviceRuntime): Promise<void> {
    const p = this.tryConnect(rt).finally(() => this.pendingConnects.delete(p));
    this.pendingConnects.add(p);
    return p;
  }

  private async tryConnect(rt: DeviceRuntime): Promise<void> {
    const { id, secret } = rt.device;
    const opts: IClientOptions = {
      username: id,
      password: secret,
      clientId: id,
      clean: true,
      reconnectPeriod: 1000,
      protocolVersion: 4,
      connectTimeout: CONNECT_TIMEOUT_MS,
    };
    rt.connectAttempts++;
    let client: MqttClient;
    try {
      // allowRetries=false: a failed first attempt rejects instead of retrying silently
      // forever; we retry with backoff ourselves. Once connected, mqtt.js reconnects.
      client = await connectAsync(this.mqttUrl, opts, false);
    } catch (err) {
      this.failed++;
      if (this.stopping) return;
      const retryMs = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(rt.connectAttempts - 1, 5));
      this.log.warn({ device: id, err: errorMessage(err), retryMs }, 'device connect failed');
      this.schedule(rt, retryMs, () => void this.connect(rt));
      return;
    }
    // From here on the client must never emit an unhandled 'error'.
    client.on('error', (err) => this.log.warn({ device: id, err: err.message }, 'device mqtt error'));
    client.on('offline', () => this.log.debug({ device: id }, 'device offline'));
    client.on('reconnect', () => this.log.debug({ device: id }, 'device reconnecting'));
    if (this.stopping) {
      await this.endClient(id, client, false);
      return;
    }
    rt.client = client;
    rt.connectAttempts = 0;
    this.log.debug({ device: id }, 'device connected');
    this.publish(rt); // fresh data right away
    const phase = this.jitter
      ? Math.floor(rt.rng() * this.intervalMs)
      : this.intervalMs - (Date.now() % this.intervalMs);
    this.schedule(rt, phase, () => {
      this.publish(rt);
      const every = setInterval(() => this.publish(rt), this.intervalMs);
      rt.timers.add(every);
    });
  }

  private schedule(rt: DeviceRuntime, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      rt.timers.delete(t);
      if (this.stopping) return;
      try {
        fn();
      } catch (err) {
        this.log.error({ device: rt.device.id, err: errorMessage(err) }, 'simulator timer failed');
      }
    }, ms);
    rt.timers.add(t);
  }

  private publish(rt: DeviceRuntime): void {
    if (this.stopping) return;
    if (this.maxMessages !== undefined && this.sent >= this.maxMessages) {
      this.checkDone();
      return;
    }
    const client = rt.client;
    if (!client?.connected) return; // offline: skip rather than queue without bound
    const id = rt.device.id;
    let topic = upTopic(id);
    let payload: string;
    let duplicate = false;
    let malformed = false;
    try {
      const now = Date.now();
      const { values } = sampleReading(rt.type, rt.state, now, rt.rng);
      const reading: SimReading = { time: rt.faults ? rt.faults.clock(now) : now, seq: rt.seq + 1, values };
      rt.seq++;
      const decision = rt.faults?.decide();
      if (decision?.withhold) {
        rt.backlog.push(reading);
        return;
      }
      duplicate = decision?.duplicate ?? false;
      if (decision?.malformed) {
        payload = malformedPayload(decision.malformed, reading.time, reading.seq);
        malformed = true;
        this.malformed++;
      } else if (decision?.flushBacklog) {
        const batch = [...rt.backlog.splice(0), reading];
        payload = JSON.stringify(batch.map(canonical));
        this.backlogged += batch.length;
      } else if (this.format === 'senml') {
        topic = `${topic}/senml`;
        payload = JSON.stringify(senml(id, reading));
      } else {
        payload = JSON.stringify(canonical(reading));
      }
    } catch (err) {
      this.failed++;
      this.log.error({ device: id, err: errorMessage(err) }, 'sampling failed');
      return;
    }
    const copies = duplicate ? 2 : 1;
    if (duplicate) this.duplicates++; // same bytes again: a device whose first PUBACK was lost
    for (let i = 0; i < copies; i++) {
      this.send(client, id, topic, payload);
      this.onPublish?.({ device: id, topic, payload, malformed });
    }
  }

  private send(client: MqttClient, id: string, topic: string, payload: string): void {
    this.sent++;
    const p: Promise<void> = client
      .publishAsync(topic, payload, { qos: 1 })
      .then(
        () => {
          this.acked++;
        },
        (err: unknown) => {
          this.failed++;
          this.log.warn({ device: id, err: errorMessage(err) }, 'publish failed');
        },
      )
      .finally(() => {
        this.inFlight.delete(p);
        this.checkDone();
      });
    this.inFlight.add(p);
  }

  private checkDone(): void {
    if (this.maxMessages !== undefined && this.sent >= this.maxMessages && this.inFlight.size === 0) {
      this.resolveDone();
    }
  }

  private rate(): number {
    const now = Date.now();
    const oldest = this.rateSamples.find((s) => now - s.t <= RATE_WINDOW_MS);
    const ref = oldest ?? (this.startedAt ? { t: this.startedAt, acked: 0 } : undefined);
    if (!ref || now - ref.t < 1) return 0;
    return Math.round(((this.acked - ref.acked) * 1000 * 10) / (now - ref.t)) / 10;
  }

  private progress(): void {
    const now = Date.now();
    this.rateSamples.push({ t: now, acked: this.acked });
    while (this.rateSamples.length > 0 && now - (this.rateSamples[0]?.t ?? now) > RATE_WINDOW_MS) {
      this.rateSamples.shift();
    }
    if (!this.onProgress) return;
    try {
      this.onProgress(this.stats());
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'onProgress callback failed');
    }
  }

  private async endClient(id: string, client: MqttClient, force: boolean): Promise<void> {
    const ended = await settleWithin(client.endAsync(force), Math.min(2000, this.stopTimeoutMs));
    if (!ended) {
      this.log.debug({ device: id }, 'clean disconnect timed out, forcing');
      client.end(true);
    }
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + this.stopTimeoutMs;
    if (this.progressTimer) clearInterval(this.progressTimer);
    for (const rt of this.runtimes) {
      for (const t of rt.timers) clearTimeout(t); // clearTimeout also clears intervals
      rt.timers.clear();
    }
    try {
      // Let connection attempts in progress finish (they end their client since stopping).
      if (this.pendingConnects.size > 0) {
        await settleWithin(Promise.allSettled([...this.pendingConnects]), deadline - Date.now());
      }
      if (this.inFlight.size > 0) {
        const drained = await settleWithin(Promise.allSettled([...this.inFlight]), deadline - Date.now());
        if (!drained) this.log.warn({ inFlight: this.inFlight.size }, 'stop: unacknowledged publishes left');
      }
      const force = this.inFlight.size > 0;
      await Promise.allSettled(
        this.runtimes.map(async (rt) => {
          const client = rt.client;
          rt.client = undefined;
          if (client) await this.endClient(rt.device.id, client, force);
        }),
      );
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'fleet simulator stop failed');
    }
    this.progress();
    this.log.info({ ...this.stats(), connected: 0 }, 'fleet simulator stopped');
    this.resolveDone();
  }
}
