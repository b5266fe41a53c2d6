import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/env.ts';
import { StaMqttFixture } from './mqtt-fixture.ts';

/** The read topics of the SensorThings MQTT extension besides one Datastream's Observations: real broker, real clients. */
describe('SensorThings MQTT: entity sets, entities, properties, navigation collections and $select', () => {
  let f: StaMqttFixture;
  const keys = new Map<string, string>();
  /** A reader as `department`'s read key (undefined: anonymous), granted `topics`. */
  const reader = (department: string | undefined, topics: string[]) =>
    f.reader(department && keys.get(department), topics);
  const ingest = (device: string, time: number, values: Record<string, number>) => f.ingest(device, time, values);
  const register = (id: string, department: string, extra: Record<string, unknown> = {}) =>
    f.register(id, department, extra);
  /** GET /sta/v1.1/… as `department`'s key (undefined: anonymous), once it is there. */
  const http = (path: string, department?: string) =>
    eventually(
      async () =>
        (await fetch(`${f.h.base}/sta/v1.1/${path}`, {
          headers: department ? { authorization: `Bearer ${keys.get(department)}` } : {},
        }).then((r) => r.json())) as Record<string, unknown>,
      (body) => body.status !== 404,
    );

  beforeAll(async () => {
    // Implausible values are kept and flagged: resultQuality carries the flags.
    f = await StaMqttFixture.start({ SUS_PLAUSIBILITY: 'flag' });
    await register('env-1', 'environment', { lat: 53.55, lon: 9.99 });
    await register('tr-1', 'traffic');
    for (const d of ['environment', 'traffic']) keys.set(d, (await f.key(d)).key);
    await f.publicPm10();
  }, 120_000);
  afterAll(async () => f?.stop());

  it('v1.1/Observations: each ingested Observation the reader may read, as HTTP serves it, within 1 s; never another department’s', async () => {
    const anon = await reader(undefined, ['v1.1/Observations']);
    const traffic = await reader('traffic', ['v1.1/Observations']);
    const time = Date.now() - 2000;
    // traffic's own reading first: the anonymous reader must not get it, and notifications go out in order.
    await ingest('tr-1', time, { pm10: 3, air_temperature: 4 });
    // Timed from the publish of a connected device (a login under load is not the notification's latency).
    const device = await f.connect(f.credentials.get('env-1')!);
    const sent = performance.now();
    await f.ingest('env-1', time, { pm10: 17.5, air_temperature: 20 }, device);
    const pm10 = `env-1:pm10:${time}`;
    const got = await anon.first('v1.1/Observations', (b) => b['@iot.id'] === pm10);
    expect(performance.now() - sent).toBeLessThan(1000);
    expect(got).toStrictEqual(await http(`Observations('${pm10}')`));
    // Public data only: environment's pm10, not its air temperature nor anything of traffic.
    await traffic.first('v1.1/Observations', (b) => b['@iot.id'] === pm10);
    expect(anon.on('v1.1/Observations').map((b) => b['@iot.id'])).toStrictEqual([pm10]);
    // A department: its own Datastreams and what grants open to it, in the order they were ingested.
    expect(traffic.on('v1.1/Observations').map((b) => b['@iot.id'])).toStrictEqual([
      `tr-1:pm10:${time}`,
      `tr-1:air_temperature:${time}`,
      pm10,
    ]);
  });

  it("a flagged reading's Observation is the same over MQTT and HTTP, the flags as resultQuality", async () => {
    const topic = "v1.1/Datastreams('env-1:pm10')/Observations";
    const anon = await reader(undefined, [topic]);
    const time = Date.now() - 1200;
    // Above pm10's plausible range (0–2,000 µg/m³): stored with the flag out_of_range.
    await ingest('env-1', time, { pm10: 5000 });
    const got = await anon.first(topic);
    expect(got.resultQuality).toStrictEqual(['out_of_range']);
    expect(got).toStrictEqual(await http(`Observations('env-1:pm10:${time}')`));
  });

  it('$select on a topic trims the payload to the properties it names', async () => {
    const topic = 'v1.1/Observations?$select=result,phenomenonTime';
    const anon = await reader(undefined, [topic]);
    const time = Date.now() - 1500;
    await ingest('env-1', time, { pm10: 9.25 });
    expect(await anon.first(topic)).toStrictEqual({ phenomenonTime: new Date(time).toISOString(), result: 9.25 });
  });

  it('v1.1/Things: a newly registered device the reader may see, as HTTP serves its Thing; not another department’s', async () => {
    const env = await reader('environment', ['v1.1/Things', 'v1.1/Datastreams?$select=id,name', 'v1.1/Locations']);
    await register('parks-1', 'parks');
    await register('env-2', 'environment', { lat: 53.6, lon: 10.01 });
    const thing = await env.first('v1.1/Things', (b) => b['@iot.id'] === 'env-2');
    expect(thing).toStrictEqual(await http("Things('env-2')", 'environment'));
    expect(env.on('v1.1/Things').map((b) => b['@iot.id'])).toStrictEqual(['env-2']);
    await env.first('v1.1/Locations');
    expect(env.on('v1.1/Locations')).toStrictEqual([await http("Locations('env-2')", 'environment')]);
    await env.first('v1.1/Datastreams?$select=id,name', (b) => b['@iot.id'] === 'env-2:air_temperature');
    expect(env.on('v1.1/Datastreams?$select=id,name')).toStrictEqual([
      { '@iot.id': 'env-2:pm10', name: 'pm10 of env-2' },
      { '@iot.id': 'env-2:air_temperature', name: 'air_temperature of env-2' },
    ]);
  });

  it('v1.1/Sensors: a device type once the first device of it the reader may see is registered, not again for the next', async () => {
    for (const id of ['water', 'noise']) {
      const type = { id, name: id, quantities: [id === 'water' ? 'water_level' : 'noise_laeq'] };
      expect((await f.h.admin('POST', '/v1/device-types', type)).status).toBe(201);
    }
    // A type without a device is no Sensor yet (GET …/Sensors does not list it): nothing until a device of it comes.
    const env = await reader('environment', ['v1.1/Sensors', "v1.1/Sensors('noise')"]);
    const anon = await reader(undefined, ['v1.1/Sensors']);
    await register('wl-1', 'environment', { type: 'water' });
    await register('wl-2', 'environment', { type: 'water' });
    await register('noise-1', 'environment', { type: 'noise' });
    // Notifications go out in the order of the changes: once noise's arrived, wl-2's would have come before it.
    await env.first("v1.1/Sensors('noise')");
    expect(env.on('v1.1/Sensors')).toStrictEqual([
      await http("Sensors('water')", 'environment'),
      await http("Sensors('noise')", 'environment'),
    ]);
    expect(env.on("v1.1/Sensors('noise')")).toStrictEqual([await http("Sensors('noise')", 'environment')]);
    // Open data: no water level or noise is public, so neither Sensor is visible without credentials.
    expect(anon.on('v1.1/Sensors')).toStrictEqual([]);
  });

  it("an entity's topic gets its updates, a property's topic the new value, a navigation topic the changed members", async () => {
    const env = await reader('environment', [
      "v1.1/Things('env-1')",
      "v1.1/Things('env-1')/name",
      "v1.1/Things('env-1')/description",
      "v1.1/Things('env-1')/Datastreams",
      "v1.1/Datastreams('env-1:pm10')/Thing",
    ]);
    expect((await f.h.admin('PATCH', '/v1/devices/env-1', { name: 'Hafen Messstation' })).status).toBe(200);
    expect(await env.first("v1.1/Things('env-1')/name")).toStrictEqual({ name: 'Hafen Messstation' });
    const thing = await http("Things('env-1')", 'environment');
    expect(await env.first("v1.1/Things('env-1')")).toStrictEqual(thing);
    expect(await env.first("v1.1/Datastreams('env-1:pm10')/Thing")).toStrictEqual(thing);
    await env.first("v1.1/Things('env-1')/Datastreams", (b) => b['@iot.id'] === 'env-1:air_temperature');
    expect(env.on("v1.1/Things('env-1')/Datastreams")).toStrictEqual([
      await http("Datastreams('env-1:pm10')", 'environment'),
      await http("Datastreams('env-1:air_temperature')", 'environment'),
    ]);
    // The description did not change: nothing on its topic. The district does: it is part of the description.
    expect(env.on("v1.1/Things('env-1')/description")).toStrictEqual([]);
    expect((await f.h.admin('PATCH', '/v1/devices/env-1', { district: 'Süd' })).status).toBe(200);
    expect(await env.first("v1.1/Things('env-1')/description")).toStrictEqual({
      description: 'aq device of department environment in Süd',
    });
    expect(env.on("v1.1/Things('env-1')/name")).toStrictEqual([{ name: 'Hafen Messstation' }]);
  });

  it('refuses an unknown, ill-formed or invisible topic with SUBACK 0x80 and keeps serving others', async () => {
    for (const topic of [
      'v1.1/Nonsense',
      "v1.1/Things('env-1",
      'v1.1/Things/name',
      "v1.1/Things('env-1')/colour",
      "v1.1/Observations('env-1:pm10:1')",
      'v1.1/Observations?$filter=result gt 1',
      'v1.1/Observations?$select=result&$select=id',
      "v1.1/Datastreams('pm10')/Observations",
      "v1.1/Things('tr-1')",
      "v1.1/Sensors('nope')/Datastreams",
      "v1.1/Things('env-1')/Datastreams('env-1:pm10')",
      `v1.1/Things('${'x'.repeat(2000)}')`,
    ])
      expect([topic, await f.suback(undefined, topic)]).toStrictEqual([topic, [128]]);
    // The broker is still there and serves a good topic.
    const anon = await reader(undefined, ["v1.1/Datastreams('env-1:pm10')/Observations"]);
    const time = Date.now() - 1000;
    await ingest('env-1', time, { pm10: 1.5 });
    expect(await anon.first("v1.1/Datastreams('env-1:pm10')/Observations")).toMatchObject({ result: 1.5 });
  });
});
