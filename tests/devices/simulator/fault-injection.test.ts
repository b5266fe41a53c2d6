import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devEuiFor } from '../../../devices/simulator/formats.ts';
import { HttpPushSimulator } from '../../../devices/simulator/http-push.ts';
import { FleetSimulator } from '../../../devices/simulator/simulator.ts';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

interface Sent {
  time: number;
  values: Record<string, number>;
}

describe('simulator fault injection and push formats against the real platform', () => {
  let platform: Platform;
  let api: ReturnType<typeof apiClient>;

  const register = async (id: string, type: string) => {
    await platform.registry.createDevice({ id, name: id, department: 'environment', type, district: 'Altstadt' });
  };
  /** Points stored for a device, over all measurements. */
  const storedPoints = async (device: string): Promise<number> => {
    const [series] = await platform.influx.query(`SELECT count(value) FROM /.*/ WHERE device = '${device}'`);
    return (series ?? []).reduce((sum, s) => sum + Number(s.values[0]?.[1] ?? 0), 0);
  };
  const deadLetters = async (device: string): Promise<number> =>
    (await api<{ deadLetters: unknown[] }>('GET', `/v1/dead-letters?device=${device}&limit=1000`)).body.deadLetters
      .length;

  beforeAll(async () => {
    platform = await startPlatform(testConfig(), silentLogger);
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    await platform.registry.ensureDepartment({ id: 'environment', name: 'Environment Office' });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('malformed payloads end in dead letters, duplicates and backlog batches are stored once', async () => {
    const devices = [
      { id: 'fi-aq-01', secret: '', type: 'air_quality' },
      { id: 'fi-clim-01', secret: '', type: 'climate' },
    ];
    for (const d of devices) {
      await register(d.id, d.type);
      d.secret = await platform.registry.rotateDeviceSecret(d.id);
    }
    const published = new Map<string, Map<number, Sent>>(devices.map((d) => [d.id, new Map()]));
    let malformedSeen = 0;
    const sim = new FleetSimulator({
      mqttUrl: `mqtt://127.0.0.1:${platform.mqttPort}`,
      devices,
      intervalMs: 25,
      seed: 1234,
      maxMessages: 60,
      faults: { malformed: 0.2, duplicates: 0.25, offline: 0.1, offlineReadings: 3 },
      onPublish: (m) => {
        if (m.malformed) {
          malformedSeen++;
          return;
        }
        const parsed = JSON.parse(m.payload) as Sent | Sent[];
        for (const r of Array.isArray(parsed) ? parsed : [parsed]) published.get(m.device)?.set(r.time, r);
      },
    });
    await sim.start();
    await sim.whenDone();
    await sim.stop();
    const s = sim.stats();
    expect(s.failed).toBe(0);
    expect(s.acked).toBe(s.sent);
    // The seed makes every kind of fault happen in this run.
    expect(s.malformed).toBeGreaterThan(0);
    expect(s.duplicates).toBeGreaterThan(0);
    expect(s.backlogged).toBeGreaterThan(0);
    expect(malformedSeen).toBe(s.malformed);

    for (const d of devices) {
      const readings = [...(published.get(d.id)?.values() ?? [])];
      const expected = readings.reduce((n, r) => n + Object.keys(r.values).length, 0);
      await eventually(
        () => storedPoints(d.id),
        (n) => n === expected,
      );
    }
    const letters = await eventually(
      async () => (await deadLetters('fi-aq-01')) + (await deadLetters('fi-clim-01')),
      (n) => n === s.malformed,
    );
    expect(letters).toBe(s.malformed);
  });

  it('pushes The Things Stack and ChirpStack uplinks through POST /v1/ingest/{format}', async () => {
    await register('fi-ttn-01', 'air_quality');
    await register(devEuiFor('fi-cs-01'), 'climate');
    for (const [format, id, stored] of [
      ['ttn', 'fi-ttn-01', 'fi-ttn-01'],
      ['chirpstack', 'fi-cs-01', devEuiFor('fi-cs-01')],
    ] as const) {
      const sim = new HttpPushSimulator({
        apiUrl: `http://127.0.0.1:${platform.httpPort}`,
        apiKey: TEST_ADMIN_KEY,
        devices: [{ id, type: format === 'ttn' ? 'air_quality' : 'climate' }],
        format,
        intervalMs: 30,
        maxMessages: 4,
        seed: 5,
      });
      sim.start();
      await sim.whenDone();
      await sim.stop();
      expect(sim.stats()).toMatchObject({ sent: 4, accepted: 4, refused: 0, failed: 0 });
      // Each uplink: the decoded values plus the gateway's rssi and snr (air_quality's own rssi is the same point).
      const perMessage = format === 'ttn' ? 7 + 1 : 6 + 2;
      await eventually(
        () => storedPoints(stored),
        (n) => n === 4 * perMessage,
      );
    }
  });
});
