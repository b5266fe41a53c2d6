import {
  DEPARTMENTS,
  DEVICE_TYPE_IDS,
  DEVICE_TYPES,
  demoDevices,
  FleetSimulator,
  quantitiesOf,
  registrationOf,
} from '../../devices/simulator/index.ts';
import type { Logger } from '../common/logger.ts';
import { PUBLIC_GRANTEE, type Registry } from '../registry/index.ts';

/** The demo city's open data: what a new user finds in /v1/open/catalog and /sta/v1.1 without a key. */
export const DEMO_OPEN_DATA = [
  {
    owner: 'environment',
    title: 'Luftqualität (Feinstaub, Stickstoffdioxid)',
    purpose: 'Messwerte der Luftgütestationen der Stadt: Feinstaub PM2,5 und PM10 sowie Stickstoffdioxid.',
    quantities: ['pm2_5', 'pm10', 'no2'],
    deviceTypes: ['air_quality'],
    licence: 'dl-by-de/2.0',
    updateIntervalS: 300,
  },
  {
    owner: 'drainage',
    title: 'Pegelstände',
    purpose: 'Wasserstände der Pegel an Bächen und Rückhaltebecken der Stadt.',
    quantities: ['water_level'],
    deviceTypes: ['water_level'],
    licence: 'cc-by/4.0',
    updateIntervalS: 600,
  },
] as const;

/**
 * Seeds the demo city (five departments, a fleet across the districts) and gives every demo device a fresh secret:
 * secrets are stored only as hashes, so the in-process simulator needs new ones on each start.
 */
export async function seedDemo(
  registry: Registry,
  count: number,
): Promise<Array<{ id: string; secret: string; type: string }>> {
  for (const d of DEPARTMENTS) await registry.ensureDepartment(d);
  // Device types (SensorThings Sensors; their quantities are a device's Datastreams) and the two open datasets.
  const types = registry.deviceTypes;
  for (const id of DEVICE_TYPE_IDS) {
    const t = DEVICE_TYPES[id];
    if (await types.get(id)) continue;
    await types.create({
      id,
      name: t.name,
      description: `${t.name} of the demo city`,
      quantities: quantitiesOf(id),
      expectedIntervalS: t.expectedIntervalS,
      profile: { demo: true },
    });
  }
  const { grants } = registry;
  const published = new Set((await grants.publicDatasets()).map((g) => `${g.owner}/${g.title}`));
  for (const d of DEMO_OPEN_DATA) {
    if (published.has(`${d.owner}/${d.title}`)) continue;
    await grants.create({
      ...d,
      grantee: PUBLIC_GRANTEE,
      quantities: [...d.quantities],
      deviceTypes: [...d.deviceTypes],
      districts: null,
      from: null,
      to: null,
      aggregationFloorS: null,
      expiresAt: new Date(Date.UTC(2099, 11, 31)).toISOString(),
    });
  }
  const out: Array<{ id: string; secret: string; type: string }> = [];
  for (const d of demoDevices(count)) {
    const existing = await registry.getDevice(d.id);
    const secret = existing
      ? await registry.rotateDeviceSecret(d.id)
      : (await registry.createDevice(registrationOf(d))).secret;
    out.push({ id: d.id, secret, type: d.type });
  }
  return out;
}

export async function startDemoFleet(
  registry: Registry,
  opts: { mqttPort: number; count: number; intervalMs: number; log: Logger },
): Promise<FleetSimulator> {
  const devices = await seedDemo(registry, opts.count);
  const sim = new FleetSimulator({
    mqttUrl: `mqtt://127.0.0.1:${opts.mqttPort}`,
    devices,
    intervalMs: opts.intervalMs,
    logger: opts.log,
  });
  await sim.start();
  opts.log.info({ devices: devices.length, intervalMs: opts.intervalMs }, 'demo fleet publishing');
  return sim;
}
