import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../../services/registry/index.ts';
import { closed, connackCode, type Harness, startBroker, testRegistry } from './harness.ts';

/** Counter values by label set, as prom-client reports them. */
async function counter(h: Harness, name: string): Promise<Array<[Record<string, unknown>, number]>> {
  const metric = h.metrics.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  return (await metric.get()).values.map((v) => [{ ...v.labels }, v.value]);
}

let registry: Registry;
beforeAll(async () => {
  registry = await testRegistry();
});
afterAll(async () => registry?.close());

describe('broker authentication: CONNACK codes, limits and failed-login throttling', () => {
  let h: Harness;
  let secret: string;

  beforeAll(async () => {
    h = await startBroker({ maxConnections: 3, keepaliveLimitS: 600 }, {}, registry);
    secret = await h.device('auth-1');
    await h.device('auth-2');
  });
  afterAll(async () => h?.stop());

  it('accepts the device with its own secret and client id, or id:suffix', async () => {
    expect(await connackCode(h.url, { username: 'auth-1', password: secret, clientId: 'auth-1' })).toBe('connected');
    expect(await connackCode(h.url, { username: 'auth-1', password: secret, clientId: 'auth-1:fw' })).toBe('connected');
  });

  it('answers a wrong secret and an unknown device with CONNACK 4 (bad username or password)', async () => {
    expect(await connackCode(h.url, { username: 'auth-1', password: 'wrong', clientId: 'auth-1' })).toBe(4);
    expect(await connackCode(h.url, { username: 'nobody', password: secret, clientId: 'nobody' })).toBe(4);
  });

  it('answers a connect without credentials with CONNACK 5 (not authorized)', async () => {
    expect(await connackCode(h.url, { clientId: 'auth-1' })).toBe(5);
  });

  it("answers another device's client id and an over-long client id with CONNACK 2 (identifier rejected)", async () => {
    expect(await connackCode(h.url, { username: 'auth-1', password: secret, clientId: 'auth-2' })).toBe(2);
    const long = `auth-1:${'x'.repeat(200)}`;
    expect(await connackCode(h.url, { username: 'auth-1', password: secret, clientId: long })).toBe(2);
  });

  it('keeps one persistent session per device: clean: false only under the plain device id', async () => {
    const creds = { username: 'auth-1', password: secret, clean: false };
    expect(await connackCode(h.url, { ...creds, clientId: 'auth-1' })).toBe('connected');
    expect(await connackCode(h.url, { ...creds, clientId: 'auth-1:s1' })).toBe(2);
    expect(await connackCode(h.url, { ...creds, clientId: 'auth-1:s1', clean: true })).toBe('connected');
  });

  it('refuses a keepalive above the limit and keepalive 0', async () => {
    const creds = { username: 'auth-1', password: secret, clientId: 'auth-1' };
    expect(await connackCode(h.url, { ...creds, keepalive: 601 })).toBe(6);
    expect(await connackCode(h.url, { ...creds, keepalive: 0 })).toBe(6);
  });

  it('answers CONNACK 3 (server unavailable) once the connection limit is reached', async () => {
    const held: MqttClient[] = [];
    for (const suffix of ['a', 'b', 'c']) {
      held.push(await h.connect({ username: 'auth-1', password: secret, clientId: `auth-1:${suffix}` }));
    }
    expect(await connackCode(h.url, { username: 'auth-1', password: secret, clientId: 'auth-1:d' })).toBe(3);
    await Promise.all(held.map((c) => c.endAsync(true)));
  });

  it('counts logins and refusals by reason in the Prometheus registry', async () => {
    expect(await counter(h, 'sus_mqtt_auth_failures_total')).toStrictEqual([
      [{ reason: 'bad_credentials' }, 2],
      [{ reason: 'missing_credentials' }, 1],
      [{ reason: 'client_id' }, 3],
      [{ reason: 'too_many_connections' }, 1],
    ]);
    expect(await counter(h, 'sus_mqtt_connects_total')).toStrictEqual([[{}, 7]]);
  });
});

describe('broker failed-login throttling per source address and username', () => {
  let h: Harness;
  let secret: string;
  let neighbour: string;

  beforeAll(async () => {
    h = await startBroker(
      {
        throttle: { freeFailures: 2, maxFailures: 4, baseDelayMs: 1, maxDelayMs: 5, windowMs: 60_000 },
      },
      {},
      registry,
    );
    secret = await h.device('thr-1');
    neighbour = await h.device('thr-2');
  });
  afterAll(async () => h?.stop());

  it('locks the username out at that address after the allowed failures: even the right secret is refused with CONNACK 5', async () => {
    const bad = { username: 'thr-1', password: 'guess', clientId: 'thr-1' };
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(await connackCode(h.url, bad));
    expect(codes).toStrictEqual([4, 4, 4, 4]);
    expect(await connackCode(h.url, { username: 'thr-1', password: secret, clientId: 'thr-1' })).toBe(5);
    expect(await counter(h, 'sus_mqtt_auth_failures_total')).toStrictEqual([
      [{ reason: 'bad_credentials' }, 4],
      [{ reason: 'throttled' }, 1],
    ]);
  });

  it('lets a device behind the same address (a carrier NAT) in with its own correct secret', async () => {
    expect(await connackCode(h.url, { username: 'thr-1', password: secret, clientId: 'thr-1' })).toBe(5);
    expect(await connackCode(h.url, { username: 'thr-2', password: neighbour, clientId: 'thr-2' })).toBe('connected');
  });
});

describe('broker failed-login throttling: logins waiting out an address-wide delay are bounded', () => {
  let h: Harness;
  let secret: string;

  beforeAll(async () => {
    // One failure from the address delays every further login from it by 2 s, and only one may wait at a time.
    h = await startBroker(
      {
        throttle: {
          freeFailures: 5,
          maxFailures: 10,
          addressFreeFailures: 1,
          baseDelayMs: 2000,
          maxDelayMs: 2000,
          windowMs: 60_000,
        },
      },
      {},
      registry,
    );
    secret = await h.device('wait-1');
  });
  afterAll(async () => h?.stop());

  it('answers CONNACK 3 (try again later) to a login that finds every waiting place of its address taken', async () => {
    expect(await connackCode(h.url, { username: 'guess', password: 'x', clientId: 'guess' })).toBe(4);
    const waiting = connackCode(h.url, { username: 'wait-1', password: secret, clientId: 'wait-1' });
    const refused = await connackCode(h.url, { username: 'wait-1', password: secret, clientId: 'wait-1:b' });
    expect([refused, await waiting]).toStrictEqual([3, 'connected']);
  });
});

describe('broker ACL: a device publishes only as itself and reads only its own downlink', () => {
  let h: Harness;
  let a: string;

  const connectA = (clientId = 'acl-a') => h.connect({ username: 'acl-a', password: a, clientId });
  /** Publishes and reports whether the broker kept the connection (an ACL violation closes it). */
  const publishKeeps = async (client: MqttClient, topic: string, payload: string | Buffer): Promise<boolean> => {
    const gone = closed(client).then(() => 'closed' as const);
    const acked = client.publishAsync(topic, payload, { qos: 1 }).then(
      () => 'acked' as const,
      () => 'closed' as const,
    );
    return (await Promise.race([acked, gone])) === 'acked';
  };

  beforeAll(async () => {
    h = await startBroker({ maxPayloadBytes: 1024 }, {}, registry);
    a = await h.device('acl-a');
    await h.device('acl-b');
  });
  afterAll(async () => h?.stop());

  it('acknowledges readings on its own up and up/senml topics and hands them over', async () => {
    const client = await connectA();
    expect(await publishKeeps(client, 'sus/v1/devices/acl-a/up', '{"values":{"pm2_5":3}}')).toBe(true);
    expect(await publishKeeps(client, 'sus/v1/devices/acl-a/up/senml', '[]')).toBe(true);
    expect(h.uplinks.map((u) => [u.device, u.channel, u.payload.toString()])).toStrictEqual([
      ['acl-a', 'up', '{"values":{"pm2_5":3}}'],
      ['acl-a', 'up/senml', '[]'],
    ]);
    await client.endAsync();
  });

  it.each([
    ["another device's up topic", 'sus/v1/devices/acl-b/up'],
    ['its own status topic (only the broker sets it)', 'sus/v1/devices/acl-a/status'],
    ['its own downlink topic', 'sus/v1/devices/acl-a/down/config'],
    ['a $SYS topic', '$SYS/broker/uptime'],
    ['a wildcard topic', 'sus/v1/devices/acl-a/up/#'],
  ])('drops a publish to %s and disconnects the device', async (_what, topic) => {
    const before = h.uplinks.length;
    const client = await connectA();
    expect(await publishKeeps(client, topic, '{"values":{"pm2_5":3}}')).toBe(false);
    expect(h.uplinks.length).toBe(before);
  });

  it('refuses a payload above the limit and disconnects the device', async () => {
    const before = h.uplinks.length;
    const client = await connectA();
    expect(await publishKeeps(client, 'sus/v1/devices/acl-a/up', Buffer.alloc(1025, 0x20))).toBe(false);
    expect(h.uplinks.length).toBe(before);
  });

  it('grants a subscription to its own downlink tree', async () => {
    const client = await connectA();
    const granted = await client.subscribeAsync('sus/v1/devices/acl-a/down/#', { qos: 1 });
    expect(granted.map((g) => [g.topic, g.qos])).toStrictEqual([['sus/v1/devices/acl-a/down/#', 1]]);
    await client.endAsync();
  });

  it('refuses each subscription outside its own downlink tree with SUBACK 0x80 and then disconnects', async () => {
    for (const filter of [
      'sus/v1/devices/acl-b/down/#',
      'sus/v1/devices/+/down/#',
      '$SYS/#',
      'sus/v1/devices/acl-a/up',
    ]) {
      const client = await connectA();
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const granted = await client.subscribeAsync(filter, { qos: 1 }).then(
        (g) => g.map((x) => x.qos),
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
      );
      await closed;
      expect([filter, granted]).toStrictEqual([filter, [128]]);
      await client.endAsync(true);
    }
  });

  it('counts every denial by action', async () => {
    const metric = h.metrics.getSingleMetric('sus_mqtt_acl_denials_total');
    const values = (await metric!.get()).values.map((v) => [{ ...v.labels }, v.value]);
    // The wildcard publish is refused by Aedes itself before the ACL runs: four ACL publish denials, not five.
    expect(values).toStrictEqual([
      [{ action: 'publish' }, 4],
      [{ action: 'payload_too_large' }, 1],
      [{ action: 'subscribe' }, 4],
    ]);
  });

  it('counts accepted publishes by QoS and their payload bytes, and no deliveries', async () => {
    // The two readings of the first test: 22 + 2 payload bytes; every refused publish is left out.
    expect(await counter(h, 'sus_mqtt_messages_in_total')).toStrictEqual([[{ qos: 1 }, 2]]);
    expect(await counter(h, 'sus_mqtt_bytes_in_total')).toStrictEqual([[{}, 24]]);
    expect(await counter(h, 'sus_mqtt_messages_out_total')).toStrictEqual([]);
    expect(await counter(h, 'sus_mqtt_bytes_out_total')).toStrictEqual([[{}, 0]]);
  });
});

describe('broker shutdown', () => {
  it('stops while devices are still connected and closes their connections', async () => {
    const h = await startBroker({}, {}, registry);
    const secret = await h.device('stop-1');
    const client = await h.connect({ username: 'stop-1', password: secret, clientId: 'stop-1' });
    const gone = closed(client);
    await h.broker.stop();
    await gone;
    expect([client.connected, h.broker.connectedClients]).toStrictEqual([false, 0]);
    await h.stop();
  });
});
