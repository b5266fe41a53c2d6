import { DEPARTMENTS, DISTRICTS, demoDevices, FleetSimulator } from '../../devices/simulator/index.ts';
import type { Logger } from '../common/logger.ts';
import type { Registry } from '../registry/index.ts';

/**
 * Seeds the demo city (five departments, a fleet across the districts) and gives every demo device a fresh secret:
 * secrets are stored only as hashes, so the in-process simulator needs new ones on each start.
 */
export async function seedDemo(
  registry: Registry,
  count: number,
): Promise<Array<{ id: string; secret: string; type: string }>> {
  for (const d of DEPARTMENTS) await registry.ensureDepartment(d);
  const districtNames = new Map(DISTRICTS.map((d) => [d.id, d.name]));
  const out: Array<{ id: string; secret: string; type: string }> = [];
  for (const d of demoDevices(count)) {
    const existing = await registry.getDevice(d.id);
    const secret = existing
      ? await registry.rotateDeviceSecret(d.id)
      : (
          await registry.createDevice({
            id: d.id,
            name: d.name,
            department: d.department,
            type: d.type,
            district: districtNames.get(d.district) ?? d.district,
            lat: d.lat,
            lon: d.lon,
          })
        ).secret;
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
