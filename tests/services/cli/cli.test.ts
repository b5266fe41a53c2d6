import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/common/config.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SUS = path.join(ROOT, 'bin/sus.mjs');

function sus(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [SUS, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

describe('sus command line', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reports every configuration problem at once and exits 1', async () => {
    const run = sus(['run'], { SUS_HTTP_PORT: 'eighty', INFLUX_API: 'v3', DATABASE_URL: 'mysql://db' });
    expect(await run.exited).toBe(1);
    const lines = run.stderr().split('\n');
    expect(lines[0]).toBe('sus: invalid configuration:');
    expect(lines.filter((l) => l.startsWith('  - ')).map((l) => l.split(':')[0]!.trim())).toStrictEqual([
      '- SUS_HTTP_PORT',
      '- INFLUX_API',
      '- DATABASE_URL',
    ]);
  });

  it('sus ingest without SUS_INGEST_MQTT_URL says what it needs and exits 1', async () => {
    const run = sus(['ingest'], { SUS_INGEST_MQTT_URL: '', SUS_DATA_DIR: 'memory://' });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toBe(
      'sus: sus ingest needs SUS_INGEST_MQTT_URL: the MQTT broker the devices publish to (mqtt://, mqtts://, ws://, wss://)\n',
    );
  });

  it('exits 2 with the usage on an unknown command', async () => {
    const run = sus(['frobnicate'], {});
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain("unknown command 'frobnicate'");
  });

  it('runs the demo city and on Ctrl-C flushes the pending batch to InfluxDB and exits 0 without stack traces', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sus-cli-'));
    dirs.push(dataDir);
    const base = testConfig();
    const env = {
      SUS_HTTP_HOST: '127.0.0.1',
      SUS_HTTP_PORT: '0',
      SUS_MQTT_HOST: '127.0.0.1',
      SUS_MQTT_PORT: '0',
      SUS_DATA_DIR: dataDir,
      SUS_ADMIN_KEY: TEST_ADMIN_KEY,
      INFLUX_DB: base.INFLUX_DB,
      // Nothing is written before shutdown: whatever InfluxDB holds afterwards was flushed by the shutdown.
      SUS_WRITE_FLUSH_MS: '600000',
      SUS_WRITE_BATCH_SIZE: '1000000',
      SUS_DEMO_INTERVAL_MS: '500',
      LOG_LEVEL: 'info',
    };
    const run = sus(['run', '--demo'], env);
    const lines = createInterface({ input: run.child.stdout! });
    const messages: string[] = [];
    lines.on('line', (line) => {
      if (line.startsWith('{')) messages.push((JSON.parse(line) as { msg: string }).msg);
    });
    const stdoutClosed = new Promise((resolve) => lines.once('close', resolve));
    const httpPort = await new Promise<number>((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /SUS platform up: API http:\/\/localhost:(\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      void run.exited.then((code) => reject(new Error(`sus exited early (${code}): ${run.stderr()}`)));
    });
    const api = apiClient(`http://127.0.0.1:${httpPort}`, TEST_ADMIN_KEY);
    const devices = await api<{ devices: Array<{ id: string; department: string }> }>('GET', '/v1/devices');
    expect(devices.body.devices.length).toBeGreaterThanOrEqual(40);
    expect(new Set(devices.body.devices.map((d) => d.department))).toStrictEqual(
      new Set(['environment', 'traffic', 'parks', 'drainage', 'waste']),
    );
    // Wait until the fleet has reported (every device publishes once right after connecting).
    await eventually(
      async () => (await api<{ devices: Array<{ lastSeenAt: string | null }> }>('GET', '/v1/devices')).body.devices,
      (d) => d.filter((x) => x.lastSeenAt !== null).length >= 40,
      15_000,
    );
    const influx = new InfluxQuery(loadConfig({ ...process.env, INFLUX_DB: base.INFLUX_DB }));
    const count = async () => {
      const [series = []] = await influx.query(
        'SELECT count("value") FROM "battery_voltage","noise_laeq","parking_occupied"',
      );
      return series.reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0);
    };
    expect(await count()).toBe(0);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(await count()).toBeGreaterThan(0);
    expect(run.stderr()).not.toMatch(/\n\s+at /);
    await stdoutClosed;
    expect(messages.slice(messages.indexOf('shutting down (pending batches are flushed)'))).toContain(
      'stopped cleanly',
    );
    expect(messages.at(-1)).toBe('stopped cleanly');
  }, 60_000);
});
