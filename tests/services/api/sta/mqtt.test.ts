import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/env.ts';
import { StaMqttFixture } from './mqtt-fixture.ts';

/** The SensorThings MQTT read extension on the platform's broker: real broker, real ingest, real mqtt clients. */
describe('SensorThings MQTT: v1.1/Datastreams(…)/Observations on the SUS broker', () => {
  let f: StaMqttFixture;
  const connect = (opts: IClientOptions) => f.connect(opts);
  const device = (id: string) => f.connect(f.credentials.get(id)!);
  /** The next message on `topic`, parsed. */
  const next = (c: MqttClient, topic: string) =>
    new Promise<unknown>((resolve) => {
      const on = (t: string, payload: Buffer) => {
        if (t !== topic) return;
        c.off('message', on);
        resolve(JSON.parse(payload.toString('utf8')));
      };
      c.on('message', on);
    });
  const refused = (c: MqttClient, topic: string) =>
    c.subscribeAsync(topic, { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );

  beforeAll(async () => {
    f = await StaMqttFixture.start();
    await f.register('env-1', 'environment');
    await f.register('tr-1', 'traffic');
    await f.publicPm10();
  }, 120_000);
  afterAll(async () => f?.stop());

  it('lists the MQTT conformance class and the broker as its endpoint at the service root', async () => {
    const root = (await (await fetch(`${f.h.base}/sta/v1.1`)).json()) as { serverSettings: unknown };
    const mqtt = 'http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates';
    expect(root.serverSettings).toStrictEqual({
      conformance: [
        'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel',
        'http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities',
        'http://www.opengis.net/spec/iot_sensing/1.1/req/request-data',
        mqtt,
      ],
      [mqtt]: { endpoints: [`mqtt://data.example.org:${f.h.platform.mqttPort}`] },
    });
  });

  it('delivers an ingested reading as the Observation JSON to an anonymous reader of a public Datastream within 1 s', async () => {
    const topic = "v1.1/Datastreams('env-1:pm10')/Observations";
    const reader = await connect({ username: 'sta', clientId: '@sta/anon-1' });
    expect(await refused(reader, topic)).toStrictEqual([1]);
    // The subscription reads environment's data through its public grant: in environment's audit log.
    const env = await f.h.as('environment', ['admin']);
    const audit = await env<{ entries: Array<Record<string, unknown>> }>('GET', '/v1/audit');
    expect(audit.body.entries.map((e) => [e.route, e.reader, e.keyId, e.query])).toStrictEqual([
      ['mqtt /sta/v1.1', null, null, { topic }],
    ]);
    const got = next(reader, topic);
    const dev = await device('env-1');
    const time = Date.now() - 1000;
    const sent = performance.now();
    await dev.publishAsync('sus/v1/devices/env-1/up', JSON.stringify({ time, values: { pm10: 17.5 } }), { qos: 1 });
    const self = `https://data.example.org/sta/v1.1/Observations('env-1:pm10:${time}')`;
    expect(await got).toStrictEqual({
      '@iot.id': `env-1:pm10:${time}`,
      '@iot.selfLink': self,
      phenomenonTime: new Date(time).toISOString(),
      resultTime: new Date(time).toISOString(),
      result: 17.5,
      resultQuality: null,
      'Datastream@iot.navigationLink': `${self}/Datastream`,
      'FeatureOfInterest@iot.navigationLink': `${self}/FeatureOfInterest`,
    });
    expect(performance.now() - sent).toBeLessThan(1000);
    // The same Observation is what the HTTP side serves once the spool has written it to InfluxDB.
    const http = await eventually(
      async () => (await fetch(`${f.h.base}/sta/v1.1/Observations('env-1:pm10:${time}')?$select=id,result`)).json(),
      (body) => (body as { status?: number }).status !== 404,
    );
    expect(http).toStrictEqual({ '@iot.id': `env-1:pm10:${time}`, result: 17.5 });
  });

  it('refuses an anonymous reader what no public grant opens, and a wildcard or a device topic, with SUBACK 0x80', async () => {
    for (const topic of [
      "v1.1/Datastreams('tr-1:pm10')/Observations",
      "v1.1/Datastreams('env-1:air_temperature')/Observations",
      "v1.1/Datastreams('nope:pm10')/Observations",
      'v1.1/+/Observations',
      'v1.1/#',
      'sus/v1/devices/env-1/up',
      "v1.1/Things('tr-1')/Datastreams('env-1:pm10')/Observations",
    ]) {
      const reader = await connect({ username: 'sta', clientId: '@sta/anon-2' });
      const closed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
      expect([topic, await refused(reader, topic)]).toStrictEqual([topic, [128]]);
      await closed;
    }
  });

  it('gives a department key its own Datastreams through the Thing path, and refuses every publish', async () => {
    const { key } = (
      await f.h.admin<{ key: string }>('POST', '/v1/keys', { name: 'sta-tr', department: 'traffic', scopes: ['read'] })
    ).body;
    const topic = "v1.1/Things('tr-1')/Datastreams('tr-1:air_temperature')/Observations";
    const reader = await connect({ username: 'sta', password: key, clientId: '@sta/traffic' });
    expect(await refused(reader, topic)).toStrictEqual([1]);
    const got = next(reader, topic);
    const time = Date.now() - 500;
    await (await device('tr-1')).publishAsync(
      'sus/v1/devices/tr-1/up',
      JSON.stringify({ time, values: { air_temperature: 21.25 } }),
      { qos: 1 },
    );
    expect(await got).toMatchObject({ '@iot.id': `tr-1:air_temperature:${time}`, result: 21.25 });
    // Read-only: a publish, even on its own topic, closes the connection and reaches no one.
    const closed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    reader.publish(topic, JSON.stringify({ result: 1 }), { qos: 1 });
    await closed;
  });

  it('refuses a reader with a client id outside @sta/ or a key without the read scope', async () => {
    const { key } = (
      await f.h.admin<{ key: string }>('POST', '/v1/keys', { name: 'w', department: 'traffic', scopes: ['write'] })
    ).body;
    const code = (opts: IClientOptions) =>
      connect(opts).then(
        () => 0,
        (err: { code?: number }) => err.code,
      );
    expect(await code({ username: 'sta', clientId: 'env-1' })).toBe(2);
    expect(await code({ username: 'sta', password: key, clientId: '@sta/w' })).toBe(5);
    expect(await code({ username: 'sta', password: 'sus_nonsense', clientId: '@sta/x' })).toBe(4);
  });
});
