import { randomBytes } from 'node:crypto';
import { type Config, loadConfig } from '../../services/common/config.ts';

export const TEST_ADMIN_KEY = 'sus_test_admin_key_0123456789abcdef';

/** Fails fast with the fix when the suite runs without the local stack. */
export function requireInflux(): string {
  const url = process.env.INFLUX_URL;
  if (!url) {
    throw new Error(
      'INFLUX_URL is unset: run the suite with `npm test`, which starts a local InfluxDB, or point INFLUX_URL at one',
    );
  }
  return url;
}

/** The databases testConfig() named in this test file; tests/setup/drop-test-databases.ts drops them afterwards. */
export const testDatabases = new Set<string>();

/** A platform config on free ports, an in-memory registry and a database of its own per test file. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  requireInflux();
  const config = loadConfig({
    ...process.env,
    SUS_HTTP_HOST: '127.0.0.1',
    SUS_HTTP_PORT: '0',
    SUS_MQTT_HOST: '127.0.0.1',
    SUS_MQTT_PORT: '0',
    SUS_DATA_DIR: 'memory://',
    DATABASE_URL: '',
    SUS_ADMIN_KEY: TEST_ADMIN_KEY,
    INFLUX_DB: `sus_test_${randomBytes(4).toString('hex')}`,
    SUS_WRITE_FLUSH_MS: '50',
    SUS_LATEST_FLUSH_MS: '50',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
  testDatabases.add(config.INFLUX_DB);
  return config;
}

/** Polls until `probe` returns a value that passes `done`, or fails with the last value seen. */
export async function eventually<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > until)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}
