import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_OPEN_DATA, seedDemo } from '../../../services/cli/demo.ts';
import { type Harness, startHarness } from '../api/harness.ts';

describe('the demo city publishes open data', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await seedDemo(h.platform.registry, 24);
    // A second start seeds again: nothing is published twice.
    await seedDemo(h.platform.registry, 24);
  });
  afterAll(async () => h?.stop());

  it('lists air quality and water levels in the catalogue and serves their Datastreams without a key', async () => {
    const catalog = (await (await fetch(`${h.base}/v1/open/datasets`)).json()) as {
      datasets: Array<{ title: string; owner: string; licence: string; quantities: string[] }>;
    };
    expect(catalog.datasets.map((d) => [d.title, d.owner, d.licence, d.quantities])).toStrictEqual(
      DEMO_OPEN_DATA.map((d) => [d.title, d.owner, d.licence, [...d.quantities]]),
    );
    const ttl = await (await fetch(`${h.base}/v1/open/catalog?format=ttl`)).text();
    expect(ttl.match(/a dcat:Dataset/g)?.length).toBe(2);
    const streams = (await (await fetch(`${h.base}/sta/v1.1/Datastreams?$top=1000`)).json()) as {
      value: Array<{ '@iot.id': string }>;
    };
    const quantities = new Set(streams.value.map((s) => s['@iot.id'].split(':')[1]));
    expect([...quantities].sort()).toStrictEqual(['no2', 'pm10', 'pm2_5', 'water_level']);
    const devices = await h.platform.registry.listDevices();
    const open = devices.filter((d) => d.type === 'air_quality' || d.type === 'water_level');
    expect(streams.value.length).toBe(open.reduce((n, d) => n + (d.type === 'air_quality' ? 3 : 1), 0));
  });
});
