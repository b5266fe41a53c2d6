import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { addDevice } from '../../../services/cli/provisioning.ts';
import type { Config } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { buildHost, SUS_DEVICE } from './host-build.ts';

interface DeviceEvent {
  event: string;
  url?: string;
  seq?: number;
  time?: number;
  interval_s?: number;
  applied?: boolean;
  backlog?: number;
  values?: Record<string, number>;
}

/**
 * The device's way to the broker: a TCP relay on a fixed port, so the platform can be stopped and started again
 * (on a new port) while the device keeps the address from its bundle. `cut()` drops every connection, which the
 * broker's stop() needs: it waits for open connections to end (see the report).
 */
class Relay {
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => {
    if (this.target === undefined) return socket.destroy();
    const upstream = net.connect(this.target, '127.0.0.1');
    for (const s of [socket, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  target: number | undefined;

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('relay has no port');
    return address.port;
  }
  cut(): void {
    this.target = undefined;
    for (const s of this.sockets) s.destroy();
  }
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A local port nobody listens on: a server's port, closed again (the kernel hands it out again only much later). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe('sus-device (host build of the ESP32 firmware) against the real platform', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-device-'));
  const deviceId = 'clim-host-01';
  let config: Config;
  const relay = new Relay();
  const deaf = new Relay(); // accepts and hangs up: a broker that never answers the CONNECT
  let relayPort = 0;
  let platform: Platform | undefined;
  let api: ReturnType<typeof apiClient>;
  let child: ChildProcessWithoutNullStreams | undefined;
  const events: DeviceEvent[] = [];
  let stderr = '';

  const storedTimes = async (): Promise<number[]> => {
    const [series] = await (platform as Platform).influx.query(
      `SELECT value FROM air_temperature WHERE device = '${deviceId}'`,
    );
    return (series?.[0]?.values ?? []).map((row) => Number(row[0]));
  };
  const eventsSince = (index: number, name: string) => events.slice(index).filter((e) => e.event === name);

  beforeAll(async () => {
    await buildHost();
    // An on-disk registry, so the platform restarts with the device it registered.
    config = testConfig({ SUS_DATA_DIR: path.join(dir, 'data') });
    platform = await startPlatform(config, silentLogger);
    relayPort = await relay.listen();
    relay.target = platform.mqttPort;
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    expect((await api('POST', '/v1/departments', { id: 'environment', name: 'Environment Office' })).status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await relay.close();
    await deaf.close();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs on a real bundle, buffers through a broker outage and follows desired config', async () => {
    // The technician's flow: `sus device add` registers the device and hands out its bundle. Its first URL has
    // nobody listening, its second one never answers the CONNECT: the device moves on to the third, and stays there
    // through the outage below.
    const deadPort = await closedPort();
    const deafPort = await deaf.listen();
    const bundle = await addDevice(
      { url: `http://127.0.0.1:${platform?.httpPort}`, key: TEST_ADMIN_KEY },
      { id: deviceId, name: 'Host build', department: 'environment', type: 'climate' },
      [`mqtt://127.0.0.1:${deadPort}`, `mqtt://127.0.0.1:${deafPort}`, `mqtt://127.0.0.1:${relayPort}`],
      null,
    );
    const bundleFile = path.join(dir, 'bundle.json');
    writeFileSync(bundleFile, JSON.stringify(bundle));

    const proc = spawn(SUS_DEVICE, ['--bundle', bundleFile, '--state', path.join(dir, 'state'), '--interval', '1']);
    child = proc;
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    createInterface({ input: proc.stdout }).on('line', (line) => events.push(JSON.parse(line) as DeviceEvent));

    // 1. Live readings arrive in InfluxDB with the device's own timestamps, through the bundle's third URL.
    await eventually(
      async () => eventsSince(0, 'published').length,
      (n) => n >= 2,
      30_000,
    );
    expect(
      events.filter((e) => ['connect_failed', 'next_url', 'connected'].includes(e.event)).slice(0, 4),
    ).toStrictEqual([
      expect.objectContaining({ event: 'connect_failed' }),
      { event: 'next_url', url: `mqtt://127.0.0.1:${deafPort}` },
      { event: 'next_url', url: `mqtt://127.0.0.1:${relayPort}` },
      { event: 'connected' },
    ]);
    const live = eventsSince(0, 'reading').map((e) => e.time);
    await eventually(storedTimes, (t) => live.slice(0, 2).every((x) => t.includes(x as number)));

    // 2. The broker (the whole platform) goes away; the device keeps measuring.
    relay.cut();
    await platform?.stop();
    platform = undefined;
    const outageStart = await eventually(
      async () => events.findIndex((e) => e.event === 'disconnected'),
      (i) => i >= 0,
    );
    await eventually(
      async () => eventsSince(outageStart, 'reading').length,
      (n) => n >= 3,
      15_000,
    );
    platform = await startPlatform(config, silentLogger);
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    relay.target = platform.mqttPort;
    const reconnected = await eventually(
      async () => events.findIndex((e, i) => i > outageStart && e.event === 'connected'),
      (i) => i > 0,
      40_000,
    );
    // Every reading taken while the broker was down is stored, once, with the time it was taken.
    const offline = events
      .slice(outageStart, reconnected)
      .filter((e) => e.event === 'reading')
      .map((e) => e.time as number);
    expect(offline.length).toBeGreaterThanOrEqual(3);
    const stored = await eventually(storedTimes, (t) => offline.every((x) => t.includes(x)), 15_000);
    for (const t of offline) expect(stored.filter((x) => x === t)).toHaveLength(1);
    expect(eventsSince(reconnected, 'published').some((e) => (e.backlog ?? 0) === 0)).toBe(true);

    // 3. A desired-config change reaches the device, is applied and acknowledged.
    const put = await api<{ version: number }>('PUT', `/v1/devices/${deviceId}/config`, { config: { interval_s: 2 } });
    expect(put.status).toBe(200);
    const applied = await eventually(
      async () => events.find((e) => e.event === 'downlink' && e.applied === true),
      (e) => e !== undefined,
    );
    expect(applied?.interval_s).toBe(2);
    const acked = await eventually(
      async () => (await api<{ ackedVersion: number | null }>('GET', `/v1/devices/${deviceId}/config`)).body,
      (b) => b.ackedVersion === put.body.version,
    );
    expect(acked.ackedVersion).toBe(put.body.version);

    proc.kill('SIGTERM');
    await eventually(
      async () => events.at(-1)?.event,
      (e) => e === 'stopped',
    );
    expect(stderr).toBe('');
  }, 120_000);
});
