import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { closed, connackCode, type Harness, startBroker } from './harness.ts';

interface Seen {
  topic: string;
  status: string;
  retain: boolean;
}

describe('broker presence and credential rotation', () => {
  let h: Harness;
  let observerKey: string;
  const secrets: Record<string, string> = {};

  /** A service account watching every device's status topic, as a dashboard or integration would. */
  const observe = async (name: string): Promise<{ client: MqttClient; seen: Seen[] }> => {
    const seen: Seen[] = [];
    const client = await h.connect({ username: `svc:${name}`, password: observerKey, clientId: `@svc/${name}` });
    client.on('message', (topic, payload, packet) => {
      seen.push({
        topic,
        status: (JSON.parse(payload.toString()) as { status: string }).status,
        retain: packet.retain,
      });
    });
    await client.subscribeAsync('sus/v1/devices/+/status', { qos: 1 });
    return { client, seen };
  };
  const statusOf = (seen: Seen[], device: string) =>
    seen.filter((s) => s.topic === `sus/v1/devices/${device}/status`).map((s) => s.status);
  const connectDevice = (id: string, clientId = id) => h.connect({ username: id, password: secrets[id], clientId });

  beforeAll(async () => {
    h = await startBroker();
    for (const id of ['pr-clean', 'pr-killed', 'pr-twice', 'pr-rotate']) secrets[id] = await h.device(id);
    observerKey = (await h.registry.keys.create({ name: 'observer', department: null, scopes: ['read'] })).key;
  });
  afterAll(async () => h?.stop());

  it('publishes online on connect and a retained offline after a clean disconnect', async () => {
    const live = await observe('live-1');
    const device = await connectDevice('pr-clean');
    await eventually(
      async () => statusOf(live.seen, 'pr-clean'),
      (s) => s.length === 1,
    );
    await device.endAsync();
    await eventually(
      async () => statusOf(live.seen, 'pr-clean'),
      (s) => s.length === 2,
    );
    expect(statusOf(live.seen, 'pr-clean')).toStrictEqual(['online', 'offline']);

    const late = await observe('late-1');
    await eventually(
      async () => late.seen.filter((s) => s.topic === 'sus/v1/devices/pr-clean/status'),
      (s) => s.length === 1,
    );
    expect(late.seen.filter((s) => s.topic === 'sus/v1/devices/pr-clean/status')).toStrictEqual([
      { topic: 'sus/v1/devices/pr-clean/status', status: 'offline', retain: true },
    ]);
  });

  it('publishes a retained offline when the device socket is destroyed without DISCONNECT', async () => {
    const live = await observe('live-2');
    const device = await connectDevice('pr-killed');
    await eventually(
      async () => statusOf(live.seen, 'pr-killed'),
      (s) => s.length === 1,
    );
    device.stream.destroy();
    await eventually(
      async () => statusOf(live.seen, 'pr-killed'),
      (s) => s.length === 2,
    );
    const late = await observe('late-2');
    await eventually(
      async () => statusOf(late.seen, 'pr-killed'),
      (s) => s.length === 1,
    );
    expect(late.seen.filter((s) => s.topic === 'sus/v1/devices/pr-killed/status')).toStrictEqual([
      { topic: 'sus/v1/devices/pr-killed/status', status: 'offline', retain: true },
    ]);
  });

  it('stays online when a device reconnects with the same client id (session takeover)', async () => {
    await connectDevice('pr-twice');
    await connectDevice('pr-twice');
    const late = await observe('late-twice');
    await eventually(
      async () => statusOf(late.seen, 'pr-twice'),
      (s) => s.length === 1,
    );
    expect(statusOf(late.seen, 'pr-twice')).toStrictEqual(['online']);
  });

  it('writes device_status events to InfluxDB with the device tags', async () => {
    const rows = await eventually(
      async () =>
        (
          await h.influx.query(
            `SELECT online, department, device_type FROM device_status WHERE device = 'pr-clean' ORDER BY time`,
          )
        )[0]?.[0]?.values ?? [],
      (v) => v.length === 2,
    );
    expect(rows.map((r) => r.slice(1))).toStrictEqual([
      [1, 'environment', 'air_quality'],
      [0, 'environment', 'air_quality'],
    ]);
  });

  it('records last-seen in the registry (batched)', async () => {
    const device = await eventually(
      async () => h.registry.getDevice('pr-clean'),
      (d) => d?.lastSeenAt != null,
    );
    expect(Date.now() - Date.parse(device!.lastSeenAt!)).toBeLessThan(60_000);
  });

  it('closes the live session when the secret is rotated; the old secret is refused, the new one accepted', async () => {
    const device = await connectDevice('pr-rotate');
    const gone = closed(device);
    const fresh = await h.registry.rotateDeviceSecret('pr-rotate');
    await gone;
    expect(device.connected).toBe(false);
    expect(
      await connackCode(h.url, { username: 'pr-rotate', password: secrets['pr-rotate'], clientId: 'pr-rotate' }),
    ).toBe(4);
    expect(await connackCode(h.url, { username: 'pr-rotate', password: fresh, clientId: 'pr-rotate' })).toBe(
      'connected',
    );
  });
});
