import { afterAll } from 'vitest';
import { loadConfig } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { testDatabases } from '../helpers/env.ts';

// Every InfluxDB database a test file made through testConfig() is dropped after the file (this hook runs after the
// file's own afterAll hooks): a developer's long-lived stack would otherwise collect dozens per suite run.
afterAll(async () => {
  if (testDatabases.size === 0 || !process.env.INFLUX_URL) return;
  let influx: InfluxQuery;
  try {
    influx = new InfluxQuery(loadConfig(process.env));
  } catch {
    return; // an environment the tests could not have used either
  }
  for (const db of testDatabases) {
    await influx.query(`DROP DATABASE "${db}"`, 'POST').catch(() => undefined);
  }
  testDatabases.clear();
});
