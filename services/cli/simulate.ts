/**
 * `sus simulate`: the demo fleet against a running platform — MQTT (canonical or SenML) or the HTTP push route (The
 * Things Stack / ChirpStack webhooks) — with optional fault injection, a progress line and a summary at the end.
 */
import { parseArgs } from 'node:util';
import {
  demoDevices,
  devEuiFor,
  type FaultOptions,
  FleetSimulator,
  HttpPushSimulator,
  isSimFormat,
  registrationOf,
  type SimFormat,
} from '../../devices/simulator/index.ts';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { openRegistry } from '../registry/index.ts';
import { apiTarget } from './api-client.ts';
import { seedDemo } from './demo.ts';
import { addDevice } from './provisioning.ts';

function shareFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new SusError('SUS_ERR_USAGE', `--${name} must be a share in [0, 1]`, 400);
  return n;
}

export function faultOptionsFromFlags(values: Record<string, string | boolean | undefined>): FaultOptions | undefined {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const faults: FaultOptions = {
    malformed: shareFlag(str('malformed'), 'malformed'),
    duplicates: shareFlag(str('duplicates'), 'duplicates'),
    clockSkewShare: shareFlag(str('skew-share'), 'skew-share'),
    clockSkewMs: str('skew') === undefined ? undefined : Number(str('skew')) * 1000,
    offline: shareFlag(str('offline'), 'offline'),
    offlineReadings: str('offline-readings') === undefined ? undefined : Number(str('offline-readings')),
  };
  if (faults.clockSkewMs !== undefined && !Number.isFinite(faults.clockSkewMs))
    throw new SusError('SUS_ERR_USAGE', '--skew must be a number of seconds', 400);
  if (faults.clockSkewShare === undefined && faults.clockSkewMs !== undefined) faults.clockSkewShare = 1;
  return Object.values(faults).some((v) => v !== undefined) ? faults : undefined;
}

export async function simulateCommand(
  config: Config,
  log: Logger,
  args: string[],
  onShutdown: (log: Logger, stop: () => Promise<void>) => void,
): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      devices: { type: 'string' },
      interval: { type: 'string' },
      url: { type: 'string' },
      duration: { type: 'string' },
      format: { type: 'string' },
      api: { type: 'string' },
      key: { type: 'string' },
      malformed: { type: 'string' },
      duplicates: { type: 'string' },
      'skew-share': { type: 'string' },
      skew: { type: 'string' },
      offline: { type: 'string' },
      'offline-readings': { type: 'string' },
    },
  });
  const count = values.devices ? Number(values.devices) : config.SUS_DEMO_DEVICES;
  const intervalMs = values.interval ? Number(values.interval) : config.SUS_DEMO_INTERVAL_MS;
  if (!Number.isInteger(count) || count < 1 || !Number.isFinite(intervalMs) || intervalMs < 10) {
    throw new SusError('SUS_ERR_USAGE', '--devices must be a positive integer and --interval at least 10 ms', 400);
  }
  const format: SimFormat = (values.format ?? 'canonical') as SimFormat;
  if (!isSimFormat(format))
    throw new SusError('SUS_ERR_USAGE', `--format must be one of canonical, senml, ttn, chirpstack`, 400);
  const faults = faultOptionsFromFlags(values);

  if (format === 'ttn' || format === 'chirpstack') {
    const api = apiTarget(config, values.api, values.key);
    if (!api.key)
      throw new SusError('SUS_ERR_USAGE', `--format ${format} pushes over HTTP: give --key (scope write)`, 400);
    // LoRaWAN devices are registered under the name the network server gives them (ChirpStack: the DevEUI).
    const fleet = demoDevices(count).map((d) => ({ ...d, id: format === 'chirpstack' ? devEuiFor(d.id) : d.id }));
    // Registered through the API (the platform owns its registry); a device that exists already is kept.
    for (const d of fleet) {
      await addDevice(api, registrationOf(d), [], null).catch((err: unknown) => {
        if (!(err instanceof SusError && err.statusCode === 409)) throw err;
      });
    }
    const sim = new HttpPushSimulator({
      apiUrl: api.url,
      apiKey: api.key,
      devices: demoDevices(count).map((d) => ({ id: d.id, type: d.type })),
      format,
      intervalMs,
      faults,
      logger: log,
    });
    const progress = setInterval(() => {
      const s = sim.stats();
      process.stderr.write(
        `\rdevices ${s.devices} · sent ${s.sent} · accepted ${s.accepted} · refused ${s.refused} · failed ${s.failed}   `,
      );
    }, 1000);
    const finish = async () => {
      clearInterval(progress);
      await sim.stop();
      const s = sim.stats();
      process.stderr.write(
        `\nsummary: ${s.sent} sent, ${s.accepted} accepted, ${s.refused} refused, ${s.failed} failed by ${s.devices} devices` +
          (faults
            ? ` (injected: ${s.malformed} malformed, ${s.duplicates} duplicates, ${s.backlogged} backlogged)`
            : '') +
          '\n',
      );
    };
    onShutdown(log, finish);
    sim.start();
    if (values.duration) setTimeout(() => void finish().then(() => process.exit(0)), Number(values.duration) * 1000);
    return;
  }

  // The simulator registers its devices in the same registry the platform uses, so run it beside the platform.
  const registry = await openRegistry(config);
  const devices = await seedDemo(registry, count);
  await registry.close();
  const sim = new FleetSimulator({
    mqttUrl: values.url ?? `mqtt://127.0.0.1:${config.SUS_MQTT_PORT}`,
    devices,
    intervalMs,
    logger: log,
    format,
    faults,
    onProgress: (s) =>
      process.stderr.write(
        `\rdevices ${s.connected}/${s.devices} · sent ${s.sent} · acked ${s.acked} · failed ${s.failed} · ${s.ratePerS.toFixed(1)} msg/s   `,
      ),
  });
  const finish = async () => {
    await sim.stop();
    const s = sim.stats();
    process.stderr.write(
      `\nsummary: ${s.sent} sent, ${s.acked} acked, ${s.failed} failed by ${s.devices} devices` +
        (faults
          ? ` (injected: ${s.malformed} malformed, ${s.duplicates} duplicates, ${s.backlogged} backlogged)`
          : '') +
        '\n',
    );
  };
  onShutdown(log, finish);
  await sim.start();
  if (values.duration) {
    setTimeout(() => void finish().then(() => process.exit(0)), Number(values.duration) * 1000);
  }
}
