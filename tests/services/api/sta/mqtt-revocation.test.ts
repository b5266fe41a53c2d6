import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaMqttFixture } from './mqtt-fixture.ts';

/** SensorThings MQTT subscriptions follow the current grants, keys and devices: real broker, real clients. */
describe('SensorThings MQTT: withdrawn access ends live subscriptions', () => {
  let f: StaMqttFixture;
  const key = (department: string) => f.key(department);
  const reader = (password: string | undefined, topics: string[]) => f.reader(password, topics);
  const ingest = (device: string, time: number, values: Record<string, number>) => f.ingest(device, time, values);
  const refused = (password: string | undefined, topic: string) => f.suback(password, topic);

  beforeAll(async () => {
    f = await StaMqttFixture.start();
    await f.register('env-1', 'environment');
    await f.register('env-9', 'environment');
    await f.register('tr-1', 'traffic');
  }, 120_000);
  afterAll(async () => f?.stop());

  it('a revoked grant ends the subscriptions through it within a second; the owner and other readers keep theirs', async () => {
    const grant = await f.grant('environment', {
      grantee: 'traffic',
      title: 'Temperatures for traffic',
      quantities: ['air_temperature'],
    });
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
    expect(await grant.revoke()).toBe(200);
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
    const parks = (await key('parks')).key;
    const grant = (body: Record<string, unknown>) =>
      f.grant('environment', { grantee: 'parks', title: 'for parks', quantities: ['air_temperature'], ...body });
    const windowEnd = Date.now() - 60_000;
    await grant({ to: new Date(windowEnd).toISOString() });
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
    await grant({ quantities: ['pm10'], expiresAt: new Date(Date.now() + 2000).toISOString() });
    const expiring = await reader(parks, ["v1.1/Datastreams('env-1:pm10')/Observations"]);
    await expiring.closed;
  });

  it("a decommissioned device ends subscriptions naming it; a revoked key ends its reader's connection", async () => {
    const envKey = await key('environment');
    const named = await reader(envKey.key, ["v1.1/Things('env-9')", "v1.1/Datastreams('env-9:pm10')/Observations"]);
    const other = await reader(envKey.key, ['v1.1/Observations']);
    expect((await f.h.admin('DELETE', '/v1/devices/env-9')).status).toBe(204);
    await named.closed;
    expect(await refused(envKey.key, "v1.1/Datastreams('env-9:pm10')/Observations")).toStrictEqual([128]);
    // The set subscription of the same key is still served…
    const t = Date.now() - 3000;
    await ingest('env-1', t, { pm10: 4 });
    await other.receives(`env-1:pm10:${t}`);
    // …until the key is revoked.
    expect((await f.h.admin('DELETE', `/v1/keys/${envKey.id}`)).status).toBe(200);
    await other.closed;
  });
});
