import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { mqttPacket, mqttString } from '../../helpers/mqtt-wire.ts';
import { closed, connackCode, type Harness, startBroker } from './harness.ts';

const connectPacket = (clientId: string, username: string, password: string) =>
  mqttPacket(
    0x10,
    // MQTT 3.1.1, flags: username + password + clean session, keepalive 60 s.
    Buffer.concat([
      mqttString('MQTT'),
      Buffer.from([4, 0xc2, 0, 60]),
      mqttString(clientId),
      mqttString(username),
      mqttString(password),
    ]),
  );

const publishQos2 = (topic: string, messageId: number, payload: string) =>
  mqttPacket(
    0x34,
    Buffer.concat([mqttString(topic), Buffer.from([messageId >> 8, messageId & 255]), Buffer.from(payload)]),
  );

const counter = async (h: Harness, name: string) =>
  (await h.metrics.getSingleMetric(name)!.get()).values.map((v) => [{ ...v.labels }, v.value]);

describe('broker per-connection limits', () => {
  let h: Harness;
  let secret: string;
  let key: string;

  beforeAll(async () => {
    h = await startBroker({ maxSubscriptions: 3, sessionQueueMessages: 5 });
    secret = await h.device('lim-1');
    key = (await h.registry.keys.create({ name: 'lim-svc', department: null, scopes: ['read'] })).key;
  });
  afterAll(async () => h?.stop());

  it('closes a device that keeps more than 32 QoS 2 publishes waiting for their PUBREL', async () => {
    const socket = net.connect(h.broker.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
    });
    const gone = new Promise<string>((resolve) => socket.once('close', () => resolve('closed')));
    socket.write(connectPacket('lim-1', 'lim-1', secret));
    await eventually(
      async () => received.length,
      (n) => n >= 4, // CONNACK
    );
    // 40 QoS 2 publishes, none ever released: each PUBREC (4 bytes) is answered by nothing.
    for (let id = 1; id <= 40; id++) socket.write(publishQos2('sus/v1/devices/lim-1/up', id, '{"values":{"pm10":1}}'));
    const open = new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still open').unref());
    expect(await Promise.race([gone, open])).toBe('closed');
    socket.destroy();
    // CONNACK, then at most one PUBREC per stored publish up to the limit (those written before the close arrive).
    expect((received.length - 4) / 4).toBeLessThanOrEqual(32);
  });

  it('refuses a subscription beyond the per-connection limit, counting an unsubscribed filter out', async () => {
    const client = await h.connect({ username: 'svc:lim', password: key, clientId: '@svc/lim' });
    for (const f of ['sus/v1/devices/a/up', 'sus/v1/devices/b/up', 'sus/v1/devices/c/up']) {
      await client.subscribeAsync(f, { qos: 1 });
    }
    await client.unsubscribeAsync('sus/v1/devices/c/up');
    // Again the same filter, and one new one in place of the unsubscribed: still three.
    await client.subscribeAsync('sus/v1/devices/a/up', { qos: 1 });
    await client.subscribeAsync('sus/v1/devices/d/up', { qos: 1 });
    const gone = closed(client);
    const granted = await client.subscribeAsync('sus/v1/devices/e/up', { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    await gone;
    expect(granted).toStrictEqual([128]);
    expect(await counter(h, 'sus_mqtt_acl_denials_total')).toStrictEqual([[{ action: 'subscription_limit' }, 1]]);
  });

  it('keeps at most the configured number of messages for a persistent session that is away', async () => {
    const app = () =>
      h.connect({ username: 'svc:away', password: key, clientId: '@svc/away', clean: false, resubscribe: false });
    const first = await app();
    await first.subscribeAsync('sus/v1/devices/lim-1/up', { qos: 1 });
    await first.endAsync();
    const device = await h.connect({ username: 'lim-1', password: secret, clientId: 'lim-1' });
    for (let i = 1; i <= 12; i++) await device.publishAsync('sus/v1/devices/lim-1/up', `{"n":${i}}`, { qos: 1 });
    const got: string[] = [];
    const back = await app();
    back.on('message', (_t, payload) => got.push(payload.toString()));
    // The backlog comes in order; a reading published meanwhile may overtake it. Once the fifth and the live one are
    // in, a last marker follows anything else that was queued.
    await device.publishAsync('sus/v1/devices/lim-1/up', '{"n":"live"}', { qos: 1 });
    await eventually(
      async () => got,
      (g) => g.includes('{"n":5}') && g.includes('{"n":"live"}'),
    );
    await device.publishAsync('sus/v1/devices/lim-1/up', '{"n":"last"}', { qos: 1 });
    await eventually(
      async () => got,
      (g) => g.includes('{"n":"last"}'),
    );
    expect(got.filter((m) => !m.includes('l'))).toStrictEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}']);
    expect(await counter(h, 'sus_mqtt_session_queue_dropped_total')).toStrictEqual([[{}, 7]]);
  });

  it("survives an 'error' from Aedes (a failed will sweep or session lookup) and keeps serving", async () => {
    const aedes = (h.broker as unknown as { aedes: EventEmitter }).aedes;
    expect(() => aedes.emit('error', new Error('persistence unreachable'))).not.toThrow();
    expect(await connackCode(h.url, { username: 'lim-1', password: secret, clientId: 'lim-1:after' })).toBe(
      'connected',
    );
  });
});
