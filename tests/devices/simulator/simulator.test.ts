import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEVICE_TYPES, type DeviceTypeId } from '../../../devices/simulator/device-types.ts';
import { FleetSimulator, type SimStats } from '../../../devices/simulator/simulator.ts';

interface Received {
  device: string;
  payload: { time: unknown; seq: unknown; values: Record<string, unknown> } & Record<string, unknown>;
}

const DEVICES: Array<{ id: string; secret: string; type: DeviceTypeId }> = [
  { id: 'aq-test-01', secret: 's1', type: 'air_quality' },
  { id: 'park-test-01', secret: 's2', type: 'parking' },
  { id: 'waste-test-01', secret: 's3', type: 'waste_fill' },
];

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('FleetSimulator against a real MQTT broker', () => {
  let broker: Aedes;
  let server: net.Server;
  let url: string;
  let subscriber: MqttClient | undefined;
  const authAttempts: Array<{ clientId: string; username: string | undefined; password: string | undefined }> = [];

  beforeEach(async () => {
    broker = await Aedes.createBroker();
    broker.authenticate = (client, username, password, done) => {
      authAttempts.push({ clientId: client.id, username, password: password?.toString() });
      done(null, true);
    };
    server = net.createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await subscriber?.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('publishes canonical readings per device and stops cleanly', async () => {
    const received: Received[] = [];
    subscriber = await connectAsync(url, { clientId: 'test-subscriber', protocolVersion: 4 });
    subscriber.on('message', (topic, buf) => {
      const m = /^sus\/v1\/devices\/([^/]+)\/up$/.exec(topic);
      if (m?.[1]) received.push({ device: m[1], payload: JSON.parse(buf.toString('utf8')) });
    });
    await subscriber.subscribeAsync('sus/v1/devices/+/up', { qos: 1 });

    const progress: SimStats[] = [];
    const sim = new FleetSimulator({
      mqttUrl: url,
      devices: DEVICES,
      intervalMs: 200,
      connectConcurrency: 2,
      onProgress: (s) => progress.push(s),
    });
    await sim.start();
    expect(sim.stats().connected).toBe(3);

    // Immediately after connect every device sends once; then ~5 per second each.
    await waitFor(() => DEVICES.every((d) => received.filter((r) => r.device === d.id).length >= 4), 5000);

    await sim.stop();
    await sim.stop(); // idempotent
    const stats = sim.stats();
    expect(stats.devices).toBe(3);
    expect(stats.sent).toBeGreaterThanOrEqual(12);
    expect(stats.acked).toBeGreaterThanOrEqual(stats.sent - 0);
    expect(stats.failed).toBe(0);
    expect(stats.connected).toBe(0);
    expect(progress.length).toBeGreaterThanOrEqual(1); // at least the final report

    await waitFor(() => broker.connectedClients === 1, 2000); // only the subscriber is left
    expect(broker.connectedClients).toBe(1);

    // Credentials: username = device id, password = secret, clientId = device id.
    for (const d of DEVICES) {
      expect(authAttempts).toContainEqual({ clientId: d.id, username: d.id, password: d.secret });
    }

    const before = Date.now();
    for (const d of DEVICES) {
      const msgs = received.filter((r) => r.device === d.id).map((r) => r.payload);
      const allowed = Object.keys(DEVICE_TYPES[d.type].quantities);
      let lastSeq = Number.NEGATIVE_INFINITY;
      for (const p of msgs) {
        expect(Object.keys(p).sort()).toEqual(['seq', 'time', 'values']);
        expect(typeof p.time).toBe('number');
        expect(p.time as number).toBeLessThanOrEqual(before);
        expect(p.time as number).toBeGreaterThan(before - 60_000);
        expect(Number.isInteger(p.seq)).toBe(true);
        expect(p.seq as number).toBeGreaterThan(lastSeq);
        lastSeq = p.seq as number;
        const keys = Object.keys(p.values);
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) {
          expect(allowed).toContain(k);
          expect(typeof p.values[k]).toBe('number');
        }
      }
    }
    // Nothing is published after stop().
    const count = received.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(received.length).toBe(count);

    // With the subscriber gone too, the broker has no client left.
    await subscriber.endAsync();
    subscriber = undefined;
    await waitFor(() => broker.connectedClients === 0, 2000);
    expect(broker.connectedClients).toBe(0);
  });

  it('stops after maxMessages', async () => {
    const sim = new FleetSimulator({ mqttUrl: url, devices: DEVICES, intervalMs: 50, maxMessages: 7 });
    await sim.start();
    await sim.whenDone();
    expect(sim.stats().sent).toBe(7);
    expect(sim.stats().acked).toBe(7);
    await sim.stop();
    await waitFor(() => broker.connectedClients === 0, 2000);
  });

  it('counts and logs connect failures without throwing, and stop() still returns', async () => {
    // A port nobody listens on.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const sim = new FleetSimulator({ mqttUrl: `mqtt://127.0.0.1:${port}`, devices: DEVICES, intervalMs: 100 });
    await sim.start();
    const s = sim.stats();
    expect(s.connected).toBe(0);
    expect(s.failed).toBe(3);
    expect(s.sent).toBe(0);
    await sim.stop();
  });

  it('rejects unknown device types and duplicate ids up front', () => {
    expect(
      () => new FleetSimulator({ mqttUrl: url, devices: [{ id: 'x', secret: 's', type: 'toaster' }], intervalMs: 100 }),
    ).toThrow(/unknown type/);
    expect(
      () =>
        new FleetSimulator({
          mqttUrl: url,
          devices: [
            { id: 'x', secret: 's', type: 'noise' },
            { id: 'x', secret: 's', type: 'noise' },
          ],
          intervalMs: 100,
        }),
    ).toThrow(/duplicate/);
  });
});
