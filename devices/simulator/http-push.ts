/**
 * HttpPushSimulator: devices that reach the platform through webhooks instead of MQTT — The Things Stack and
 * ChirpStack integrations, or firmware that POSTs canonical JSON / SenML — on `POST /v1/ingest/{format}`.
 * Same signal models and fault injection as the MQTT fleet. start()/stop() own the timer; errors are counted.
 */
import { type Logger, pino } from 'pino';
import { DEVICE_TYPES, type DeviceTypeSpec, isDeviceTypeId } from './device-types.ts';
import { DeviceFaults, type FaultOptions, malformedPayload } from './faults.ts';
import { canonical, encode, type SimFormat, type SimReading } from './formats.ts';
import { hashSeed, mulberry32, type Rng } from './rng.ts';
import { createDeviceState, type DeviceState, sampleReading } from './signal.ts';

export interface HttpPushOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  apiUrl: string;
  /** An integration key (scope `write`). */
  apiKey: string;
  /** `id`: the device name in the payload (ChirpStack devices are registered under `devEuiFor(id)`). */
  devices: Array<{ id: string; type: string }>;
  format: SimFormat;
  intervalMs: number;
  faults?: FaultOptions;
  /** Stop after this many POSTs (see `whenDone()`). */
  maxMessages?: number;
  seed?: number;
  logger?: Logger;
}

export interface HttpPushStats {
  devices: number;
  sent: number;
  /** 2xx answers. */
  accepted: number;
  /** 4xx answers (422: nothing stored, the payload is in the dead-letter store). */
  refused: number;
  /** Network errors and 5xx. */
  failed: number;
  malformed: number;
  duplicates: number;
  backlogged: number;
}

interface PushDevice {
  id: string;
  type: DeviceTypeSpec;
  state: DeviceState;
  rng: Rng;
  faults: DeviceFaults | undefined;
  backlog: SimReading[];
  seq: number;
}

export class HttpPushSimulator {
  private readonly devices: PushDevice[];
  private readonly log: Logger;
  private readonly stats_: HttpPushStats;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(private readonly o: HttpPushOptions) {
    if (!(o.intervalMs > 0)) throw new RangeError(`HttpPushSimulator: intervalMs must be > 0, got ${o.intervalMs}`);
    const seed = o.seed ?? Date.now() % 0x1_0000_0000;
    this.devices = o.devices.map((d) => {
      if (!isDeviceTypeId(d.type)) throw new Error(`HttpPushSimulator: device ${d.id} has unknown type ${d.type}`);
      return {
        id: d.id,
        type: DEVICE_TYPES[d.type],
        state: createDeviceState(),
        rng: mulberry32((hashSeed(d.id) ^ seed) >>> 0),
        faults: o.faults && new DeviceFaults(o.faults, mulberry32((hashSeed(`${d.id}#faults`) ^ seed) >>> 0)),
        backlog: [],
        seq: Math.floor(Date.now() / 1000),
      };
    });
    this.log = o.logger ?? pino({ level: 'silent' });
    this.stats_ = {
      devices: this.devices.length,
      sent: 0,
      accepted: 0,
      refused: 0,
      failed: 0,
      malformed: 0,
      duplicates: 0,
      backlogged: 0,
    };
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
    this.resolveDone();
  }

  /** Resolves when `maxMessages` POSTs were answered, or after stop(). */
  whenDone(): Promise<void> {
    return this.done;
  }

  stats(): HttpPushStats {
    return { ...this.stats_ };
  }

  private budgetLeft(): boolean {
    return this.o.maxMessages === undefined || this.stats_.sent < this.o.maxMessages;
  }

  private tick(): void {
    for (const d of this.devices) {
      if (!this.budgetLeft()) break;
      try {
        this.produce(d);
      } catch (err) {
        this.stats_.failed++;
        this.log.error({ device: d.id, err: (err as Error).message }, 'http push tick failed');
      }
    }
    this.checkDone();
  }

  private produce(d: PushDevice): void {
    const now = Date.now();
    const { values } = sampleReading(d.type, d.state, now, d.rng);
    const reading: SimReading = { time: d.faults ? d.faults.clock(now) : now, seq: ++d.seq, values };
    const decision = d.faults?.decide();
    if (decision?.withhold) {
      d.backlog.push(reading);
      return;
    }
    const payloads: string[] = [];
    if (decision?.malformed) {
      this.stats_.malformed++;
      payloads.push(malformedPayload(decision.malformed, reading.time, reading.seq));
    } else if (decision?.flushBacklog) {
      const batch = [...d.backlog.splice(0), reading];
      this.stats_.backlogged += batch.length;
      // Canonical JSON carries a backlog as one batch; the other formats have one reading per message.
      if (this.o.format === 'canonical') payloads.push(JSON.stringify(batch.map(canonical)));
      else for (const r of batch) payloads.push(encode(this.o.format, d.id, r));
    } else {
      payloads.push(encode(this.o.format, d.id, reading));
    }
    if (decision?.duplicate && payloads[0] !== undefined) {
      this.stats_.duplicates++;
      payloads.push(payloads[0]);
    }
    for (const p of payloads) {
      if (!this.budgetLeft()) break;
      this.post(d.id, p);
    }
  }

  private post(device: string, payload: string): void {
    this.stats_.sent++;
    const query =
      this.o.format === 'canonical' || this.o.format === 'senml' ? `?device=${encodeURIComponent(device)}` : '';
    const p: Promise<void> = fetch(`${this.o.apiUrl.replace(/\/$/, '')}/v1/ingest/${this.o.format}${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.apiKey}`, 'content-type': 'application/json' },
      body: payload,
    })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) this.stats_.accepted++;
        else if (res.status < 500) this.stats_.refused++;
        else this.stats_.failed++;
      })
      .catch((err: unknown) => {
        this.stats_.failed++;
        this.log.warn({ device, err: (err as Error).message }, 'http push failed');
      })
      .finally(() => {
        this.inFlight.delete(p);
        this.checkDone();
      });
    this.inFlight.add(p);
  }

  private checkDone(): void {
    if (!this.budgetLeft() && this.inFlight.size === 0) this.resolveDone();
  }
}
