import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { type Harness, startBroker } from './harness.ts';

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

/**
 * Devices must not leave retained messages: the broker would keep them forever and replay them to every new
 * subscriber. Only the platform's own status and desired-config messages stay retained.
 */
describe('broker retained messages: devices cannot retain, the platform can', () => {
  let h: Harness;
  let key: string;
  const secrets: Record<string, string> = {};

  const device = (id: string, extra: Parameters<Harness['connect']>[0] = {}) =>
    h.connect({ username: id, password: secrets[id], clientId: id, ...extra });

  /**
   * A service account subscribing to everything under one device after the fact: what it receives before a marker
   * the platform publishes once the subscription stands is what the broker had retained.
   */
  const retainedFor = async (id: string, name: string): Promise<Seen[]> => {
    const seen: Seen[] = [];
    const client = await h.connect({ username: `svc:${name}`, password: key, clientId: `@svc/${name}` });
    client.on('message', (topic, payload, packet) =>
      seen.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await client.subscribeAsync(`sus/v1/devices/${id}/#`, { qos: 1 });
    await h.broker.publish(`sus/v1/devices/${id}/down/marker`, Buffer.from('marker'));
    await eventually(
      async () => seen,
      (s) => s.some((m) => m.payload === 'marker'),
    );
    await client.endAsync();
    return seen.filter((m) => m.retain).map((m) => ({ ...m, payload: m.topic.endsWith('/status') ? '…' : m.payload }));
  };

  const stripped = async () =>
    (await h.metrics.getSingleMetric('sus_mqtt_retain_stripped_total')!.get()).values.map((v) => [
      { ...v.labels },
      v.value,
    ]);

  beforeAll(async () => {
    h = await startBroker();
    for (const id of ['rt-pub', 'rt-will', 'rt-other']) secrets[id] = await h.device(id);
    key = (await h.registry.keys.create({ name: 'rt-observer', department: null, scopes: ['read'] })).key;
  });
  afterAll(async () => h?.stop());

  it('acknowledges and hands over a retained reading, but a later subscriber receives nothing retained from it', async () => {
    const client: MqttClient = await device('rt-pub');
    await client.publishAsync('sus/v1/devices/rt-pub/up', '{"values":{"pm10":4}}', { qos: 1, retain: true });
    expect(h.uplinks.filter((u) => u.device === 'rt-pub').map((u) => u.payload.toString())).toStrictEqual([
      '{"values":{"pm10":4}}',
    ]);
    // The platform's own retained status is all there is.
    expect(await retainedFor('rt-pub', 'rt-late-1')).toStrictEqual([
      { topic: 'sus/v1/devices/rt-pub/status', payload: '…', retain: true },
    ]);
    expect(await stripped()).toStrictEqual([[{ source: 'publish' }, 1]]);
  });

  it("publishes a device's retained will without the retain flag", async () => {
    const client = await device('rt-will', {
      will: { topic: 'sus/v1/devices/rt-will/up', payload: Buffer.from('{"values":{"pm10":9}}'), qos: 1, retain: true },
    });
    client.stream.destroy();
    await eventually(
      async () => h.uplinks.filter((u) => u.device === 'rt-will').map((u) => u.payload.toString()),
      (p) => p.length === 1,
    );
    expect(await retainedFor('rt-will', 'rt-late-2')).toStrictEqual([
      { topic: 'sus/v1/devices/rt-will/status', payload: '…', retain: true },
    ]);
    expect(await stripped()).toStrictEqual([
      [{ source: 'publish' }, 1],
      [{ source: 'will' }, 1],
    ]);
  });

  it("drops a will aimed outside the device's own topics at login and keeps the connection", async () => {
    const client = await device('rt-other', {
      will: { topic: 'sus/v1/devices/rt-pub/up', payload: Buffer.from('{"values":{"pm10":99}}'), qos: 1, retain: true },
    });
    expect(client.connected).toBe(true);
    const denials = (await h.metrics.getSingleMetric('sus_mqtt_acl_denials_total')!.get()).values;
    expect(denials.map((v) => [{ ...v.labels }, v.value])).toStrictEqual([[{ action: 'will' }, 1]]);
    client.stream.destroy();
    expect(await retainedFor('rt-pub', 'rt-late-3')).toStrictEqual([
      { topic: 'sus/v1/devices/rt-pub/status', payload: '…', retain: true },
    ]);
    expect(h.uplinks.filter((u) => u.payload.toString().includes('99'))).toStrictEqual([]);
  });

  it('keeps the desired configuration retained for a device that subscribes later', async () => {
    const client = await device('rt-pub', { clientId: 'rt-pub:cfg' });
    await h.broker.publish('sus/v1/devices/rt-pub/down/config', Buffer.from('{"version":1}'), true);
    const got: Seen[] = [];
    client.on('message', (topic, payload, packet) =>
      got.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await client.subscribeAsync('sus/v1/devices/rt-pub/down/config', { qos: 1 });
    await eventually(
      async () => got,
      (g) => g.length === 1,
    );
    expect(got).toStrictEqual([{ topic: 'sus/v1/devices/rt-pub/down/config', payload: '{"version":1}', retain: true }]);
  });
});
