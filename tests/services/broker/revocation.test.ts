import { connect, connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SusBroker } from '../../../services/broker/index.ts';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { closed, connackCode, type Harness, startBroker, testRegistry } from './harness.ts';

async function forced(h: Harness): Promise<Array<[Record<string, unknown>, number]>> {
  const metric = h.metrics.getSingleMetric('sus_mqtt_forced_disconnects_total');
  return (await metric!.get()).values.map((v) => [{ ...v.labels }, v.value]);
}

describe('broker: live sessions end when their credentials are withdrawn', () => {
  let h: Harness;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    h = await startBroker();
    for (const id of ['rv-dec', 'rv-keep', 'rv-will']) secrets[id] = await h.device(id);
  });
  afterAll(async () => h?.stop());

  const device = (id: string, clientId = id) => h.connect({ username: id, password: secrets[id], clientId });

  it("closes every connection of a decommissioned device, and only that device's", async () => {
    const a = await device('rv-dec');
    const b = await device('rv-dec', 'rv-dec:second');
    const other = await device('rv-keep');
    const gone = Promise.all([closed(a), closed(b)]);
    await h.registry.decommissionDevice('rv-dec');
    await gone;
    expect([a.connected, b.connected, other.connected]).toStrictEqual([false, false, true]);
    expect(await connackCode(h.url, { username: 'rv-dec', password: secrets['rv-dec'], clientId: 'rv-dec' })).toBe(4);
    expect(await forced(h)).toStrictEqual([[{ reason: 'device_decommissioned' }, 2]]);
  });

  it('does not publish the will of a session it closes for withdrawn credentials', async () => {
    const leaving = await h.connect({
      username: 'rv-will',
      password: secrets['rv-will'],
      clientId: 'rv-will',
      will: {
        topic: 'sus/v1/devices/rv-will/up',
        payload: Buffer.from('{"values":{"pm10":66}}'),
        qos: 1,
        retain: false,
      },
    });
    const marker = await device('rv-keep', 'rv-keep:marker');
    const gone = closed(leaving);
    await h.registry.decommissionDevice('rv-will');
    await gone;
    // A will would be handed over while the broker closes the session, before this later reading.
    await marker.publishAsync('sus/v1/devices/rv-keep/up', '{"values":{"pm10":1}}', { qos: 1 });
    expect(h.uplinks.map((u) => [u.device, u.payload.toString()])).toStrictEqual([
      ['rv-keep', '{"values":{"pm10":1}}'],
    ]);
  });

  it('closes the sessions a service-account key opened when the key is revoked, and only those', async () => {
    const revoked = await h.registry.keys.create({ name: 'rv-svc', department: null, scopes: ['read'] });
    const kept = await h.registry.keys.create({ name: 'rv-svc2', department: null, scopes: ['read'] });
    const svc = (key: string, name: string): Promise<MqttClient> =>
      h.connect({ username: `svc:${name}`, password: key, clientId: `@svc/${name}` });
    const one = await svc(revoked.key, 'one');
    const two = await svc(revoked.key, 'two');
    const three = await svc(kept.key, 'three');
    const gone = Promise.all([closed(one), closed(two)]);
    await h.registry.keys.revoke(revoked.record.id);
    await gone;
    expect([one.connected, two.connected, three.connected]).toStrictEqual([false, false, true]);
    expect(await connackCode(h.url, { username: 'svc:one', password: revoked.key, clientId: '@svc/one' })).toBe(4);
    expect(await forced(h)).toStrictEqual([
      [{ reason: 'device_decommissioned' }, 3],
      [{ reason: 'key_revoked' }, 2],
    ]);
  });
});

describe('broker: a login whose lookup overlapped a rotation', () => {
  it('is checked again once it stands and closed, though the lookup had found the old secret valid', async () => {
    const registry = await testRegistry();
    await registry.ensureDepartment({ id: 'environment', name: 'Environment Office' });
    const { secret } = await registry.createDevice({
      id: 'rv-race',
      name: 'rv-race',
      department: 'environment',
      type: 'air_quality',
    });
    // The secret is rotated between the lookup that accepted it and the moment the session is tracked.
    const auth = {
      async loginDevice(id: string, presented: Buffer) {
        const login = await registry.loginDevice(id, presented);
        if (login) await registry.rotateDeviceSecret(id);
        return login;
      },
    };
    const broker = new SusBroker(
      auth,
      silentLogger,
      { host: '127.0.0.1', port: 0, maxPayloadBytes: 1024 },
      async () => undefined,
      { changes: registry },
    );
    await broker.start();
    let client: MqttClient | undefined;
    try {
      // The close may come before or after the CONNACK: wait for the connection's end, not for the connect.
      const c = connect(`mqtt://127.0.0.1:${broker.port}`, {
        username: 'rv-race',
        password: secret,
        clientId: 'rv-race',
        reconnectPeriod: 0,
      });
      client = c;
      c.on('error', () => undefined);
      const ended = new Promise<string>((resolve) => c.once('close', () => resolve('closed')));
      const stillOpen = new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still open').unref());
      expect(await Promise.race([ended, stillOpen])).toBe('closed');
    } finally {
      client?.end(true);
      await broker.stop();
      await registry.close();
    }
  });
});

describe('broker in the platform: revoking a key through the API ends its MQTT sessions (sus run)', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform(testConfig(), silentLogger);
  });
  afterAll(async () => platform?.stop());

  it('DELETE /v1/keys/{id} closes the service session at once', async () => {
    const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    const created = await api<{ key: string; record: { id: string } }>('POST', '/v1/keys', {
      name: 'rv-api',
      department: null,
      scopes: ['read'],
    });
    const client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      username: 'svc:rv-api',
      password: created.body.key,
      clientId: '@svc/rv-api',
      reconnectPeriod: 0,
    });
    const gone = closed(client);
    expect((await api('DELETE', `/v1/keys/${created.body.record.id}`)).status).toBe(200);
    await gone;
    expect(client.connected).toBe(false);
    await client.endAsync(true);
  });
});
