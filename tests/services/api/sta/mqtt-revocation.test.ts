import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../harness.ts';

/** SensorThings MQTT subscriptions follow the current grants, keys and devices: real broker, real clients. */
describe('SensorThings MQTT: withdrawn access ends live subscriptions', () => {
  let h: Harness;
  const credentials = new Map<string, IClientOptions>();
  const clients: MqttClient[] = [];
  const connect = async (opts: IClientOptions) => {
    const c = await connectAsync(`mqtt://127.0.0.1:${h.platform.mqttPort}`, { reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };
  const key = async (department: string) => {
    const res = await h.admin<{ key: string; record: { id: string } }>('POST', '/v1/keys', {
      name: `k-${department}-${clients.length}`,
      department,
      scopes: ['read'],
    });
    return { key: res.body.key, id: res.body.record.id };
  };
  /** A reader with every message it got, subscribed to `topics`. */
  const reader = async (password: string | undefined, topics: string[]) => {
    const c = await connect({
      username: 'sta',
      clientId: `@sta/r${clients.length}`,
      ...(password ? { password } : {}),
    });
    const got: Array<{ topic: string; id: unknown }> = [];
    const waiters: Array<() => void> = [];
    c.on('message', (topic, payload) => {
      got.push({ topic, id: (JSON.parse(payload.toString('utf8')) as Record<string, unknown>)['@iot.id'] });
      for (const w of waiters.splice(0)) w();
    });
    const closed = new Promise<number>((resolve) => c.once('close', () => resolve(performance.now())));
    expect((await c.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos)).toStrictEqual(topics.map(() => 1));
    const ids = () => got.map((m) => m.id);
    /** Resolves once a message with this @iot.id has arrived. */
    const receives = async (id: string) => {
      while (!ids().includes(id)) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    return { c, ids, receives, closed };
  };
  const ingest = async (device: string, time: number, values: Record<string, number>) => {
    const c = await connect(credentials.get(device)!);
    await c.publishAsync(`sus/v1/devices/${device}/up`, JSON.stringify({ time, values }), { qos: 1 });
    await c.endAsync();
  };
  const refused = async (password: string | undefined, topic: string) => {
    const c = await connect({ username: 'sta', clientId: '@sta/again', ...(password ? { password } : {}) });
    return c.subscribeAsync(topic, { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
  };

  beforeAll(async () => {
    h = await startHarness({ SUS_PUBLIC_API_URL: 'https://data.example.org' }, true);
    expect(
      (await h.admin('POST', '/v1/device-types', { id: 'aq', name: 'AQ', quantities: ['pm10', 'air_temperature'] }))
        .status,
    ).toBe(201);
    for (const [id, department] of [
      ['env-1', 'environment'],
      ['env-9', 'environment'],
      ['tr-1', 'traffic'],
    ] as const) {
      const res = await h.admin<{ credentials: IClientOptions }>('POST', '/v1/devices', {
        id,
        name: id,
        department,
        type: 'aq',
        district: 'Nord',
      });
      expect(res.status).toBe(201);
      credentials.set(id, res.body.credentials);
    }
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true);
    await h?.stop();
  });

  it('a revoked grant ends the subscriptions through it within a second; the owner and other readers keep theirs', async () => {
    const env = await h.as('environment', ['admin']);
    const grant = await env<{ id: string }>('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'Temperatures for traffic',
      purpose: 'road ice warnings',
      quantities: ['air_temperature'],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(grant.status).toBe(201);
    const topic = "v1.1/Datastreams('env-1:air_temperature')/Observations";
    const trafficKey = (await key('traffic')).key;
    const viaGrant = await reader(trafficKey, [topic]);
    const trafficAll = await reader(trafficKey, ['v1.1/Observations']);
    const owner = await reader((await key('environment')).key, [topic]);
    const t1 = Date.now() - 5000;
    await ingest('env-1', t1, { air_temperature: 1 });
    const first = `env-1:air_temperature:${t1}`;
    await Promise.all([viaGrant.receives(first), trafficAll.receives(first), owner.receives(first)]);

    const revoked = performance.now();
    expect((await env('DELETE', `/v1/grants/${grant.body.id}`)).status).toBe(200);
    // The subscription naming the Datastream ends: its connection is closed.
    expect((await viaGrant.closed) - revoked).toBeLessThan(1000);
    const t2 = t1 + 1000;
    await ingest('env-1', t2, { air_temperature: 2 });
    await ingest('tr-1', t2, { pm10: 3 });
    // Positive controls: the owner gets the new reading, traffic's set subscription its own device's.
    await owner.receives(`env-1:air_temperature:${t2}`);
    await trafficAll.receives(`tr-1:pm10:${t2}`);
    expect(trafficAll.ids()).toStrictEqual([first, `tr-1:pm10:${t2}`]);
    expect(viaGrant.ids()).toStrictEqual([first]);
    // Subscribing again is refused.
    expect(await refused(trafficKey, topic)).toStrictEqual([128]);
  });

  it("an expiring grant ends the subscriptions through it; a grant's window of reading times holds for each Observation", async () => {
    const env = await h.as('environment', ['admin']);
    const parks = (await key('parks')).key;
    const grant = (body: Record<string, unknown>) =>
      env<{ id: string }>('POST', '/v1/grants', {
        grantee: 'parks',
        title: 'for parks',
        purpose: 'irrigation',
        quantities: ['air_temperature'],
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        ...body,
      });
    const windowEnd = Date.now() - 60_000;
    expect((await grant({ to: new Date(windowEnd).toISOString() })).status).toBe(201);
    const all = await reader(parks, ['v1.1/Observations']);
    // Reading times inside the window reach the grantee, later ones do not; the last reading is the control.
    await ingest('env-1', windowEnd - 1000, { air_temperature: 5 });
    await ingest('env-1', windowEnd + 1000, { air_temperature: 6 });
    await ingest('env-1', windowEnd - 500, { air_temperature: 7 });
    await all.receives(`env-1:air_temperature:${windowEnd - 500}`);
    expect(all.ids()).toStrictEqual([
      `env-1:air_temperature:${windowEnd - 1000}`,
      `env-1:air_temperature:${windowEnd - 500}`,
    ]);
    expect((await grant({ quantities: ['pm10'], expiresAt: new Date(Date.now() + 2000).toISOString() })).status).toBe(
      201,
    );
    const expiring = await reader(parks, ["v1.1/Datastreams('env-1:pm10')/Observations"]);
    await expiring.closed;
  });

  it("a decommissioned device ends subscriptions naming it; a revoked key ends its reader's connection", async () => {
    const envKey = await key('environment');
    const named = await reader(envKey.key, ["v1.1/Things('env-9')", "v1.1/Datastreams('env-9:pm10')/Observations"]);
    const other = await reader(envKey.key, ['v1.1/Observations']);
    expect((await h.admin('DELETE', '/v1/devices/env-9')).status).toBe(204);
    await named.closed;
    expect(await refused(envKey.key, "v1.1/Datastreams('env-9:pm10')/Observations")).toStrictEqual([128]);
    // The set subscription of the same key is still served…
    const t = Date.now() - 3000;
    await ingest('env-1', t, { pm10: 4 });
    await other.receives(`env-1:pm10:${t}`);
    // …until the key is revoked.
    expect((await h.admin('DELETE', `/v1/keys/${envKey.id}`)).status).toBe(200);
    await other.closed;
  });
});
