import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { type Dept, type Harness, startHarness } from '../harness.ts';

/** A SensorThings reader's messages as they arrive: every one kept, and waits on the first that passes a test. */
export class Inbox {
  readonly got: Array<{ topic: string; body: Record<string, unknown> }> = [];
  private readonly waiters: Array<() => void> = [];
  /** When the connection closed (performance.now()). */
  readonly closed: Promise<number>;
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.got.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> });
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => client.once('close', () => resolve(performance.now())));
  }
  /** The first message on `topic` passing `pred` (already received or still to come). */
  async first(topic: string, pred: (b: Record<string, unknown>) => boolean = () => true) {
    for (;;) {
      const m = this.got.find((x) => x.topic === topic && pred(x.body));
      if (m) return m.body;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  /** Resolves once a message with this @iot.id has arrived, on any topic. */
  async receives(id: string): Promise<void> {
    while (!this.ids().includes(id)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  on(topic: string) {
    return this.got.filter((x) => x.topic === topic).map((x) => x.body);
  }
  ids() {
    return this.got.map((x) => x.body['@iot.id']);
  }
}

/**
 * A platform with its broker and a device type `aq` (pm10, air temperature), and the MQTT clients of a SensorThings
 * MQTT test: devices that publish readings, readers (user `sta`) that subscribe, all closed by stop().
 */
export class StaMqttFixture {
  readonly credentials = new Map<string, IClientOptions>();
  private readonly clients: MqttClient[] = [];
  private constructor(readonly h: Harness) {}

  static async start(config: Record<string, string> = {}): Promise<StaMqttFixture> {
    const h = await startHarness({ SUS_PUBLIC_API_URL: 'https://data.example.org', ...config }, true);
    const type = { id: 'aq', name: 'AQ', quantities: ['pm10', 'air_temperature'] };
    expect((await h.admin('POST', '/v1/device-types', type)).status).toBe(201);
    return new StaMqttFixture(h);
  }

  async connect(opts: IClientOptions): Promise<MqttClient> {
    const c = await connectAsync(`mqtt://127.0.0.1:${this.h.platform.mqttPort}`, { reconnectPeriod: 0, ...opts });
    this.clients.push(c);
    return c;
  }

  /** Registers an `aq` device in district Nord and keeps its MQTT credentials. */
  async register(id: string, department: string, extra: Record<string, unknown> = {}): Promise<void> {
    const body = { id, name: id, department, type: 'aq', district: 'Nord', ...extra };
    const res = await this.h.admin<{ credentials: IClientOptions }>('POST', '/v1/devices', body);
    expect(res.status).toBe(201);
    this.credentials.set(id, res.body.credentials);
  }

  /** A read key of `department`. */
  async key(department: string): Promise<{ key: string; id: string }> {
    const res = await this.h.admin<{ key: string; record: { id: string } }>('POST', '/v1/keys', {
      name: `sta-${department}-${this.clients.length}`,
      department,
      scopes: ['read'],
    });
    expect(res.status).toBe(201);
    return { key: res.body.key, id: res.body.record.id };
  }

  /** A grant of `owner`'s, made through the API by its admin: open for a day unless `body` says otherwise. */
  async grant(owner: Dept, body: Record<string, unknown>): Promise<{ id: string; revoke: () => Promise<number> }> {
    const admin = await this.h.as(owner, ['admin']);
    const res = await admin<{ id: string }>('POST', '/v1/grants', {
      purpose: 'a test',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      ...body,
    });
    expect(res.status).toBe(201);
    return { id: res.body.id, revoke: async () => (await admin('DELETE', `/v1/grants/${res.body.id}`)).status };
  }

  /** environment's pm10 as open data (a public grant). */
  publicPm10(): Promise<unknown> {
    return this.grant('environment', { grantee: 'public', title: 'PM10 Nord', quantities: ['pm10'] });
  }

  /** One reading message from `device`, acknowledged (QoS 1), over `connection` if given, else a new one. */
  async ingest(device: string, time: number, values: Record<string, number>, connection?: MqttClient): Promise<void> {
    const c = connection ?? (await this.connect(this.credentials.get(device)!));
    await c.publishAsync(`sus/v1/devices/${device}/up`, JSON.stringify({ time, values }), { qos: 1 });
    if (!connection) await c.endAsync();
  }

  private readerOptions(password: string | undefined): IClientOptions {
    return { username: 'sta', clientId: `@sta/r${this.clients.length}`, ...(password ? { password } : {}) };
  }

  /** A reader (password: an API key, none for open data) granted `topics` at QoS 1. */
  async reader(password: string | undefined, topics: string[]): Promise<Inbox> {
    const inbox = new Inbox(await this.connect(this.readerOptions(password)));
    const granted = await inbox.client.subscribeAsync(topics, { qos: 1 });
    expect(granted.map((g) => g.qos)).toStrictEqual(topics.map(() => 1));
    return inbox;
  }

  /** The SUBACK codes a new reader gets for `topic` (128: refused), once its connection has closed if refused. */
  async suback(password: string | undefined, topic: string): Promise<number[] | undefined> {
    const c = await this.connect(this.readerOptions(password));
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const codes = await c.subscribeAsync(topic, { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    if (codes?.[0] === 128) await closed;
    return codes;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) await c.endAsync(true);
    await this.h.stop();
  }
}
