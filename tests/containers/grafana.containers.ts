import path from 'node:path';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GAZETTEER_FILE } from '../../dashboards/src/gazetteer.ts';
import { DASHBOARDS, DATASOURCE_UID } from '../../dashboards/src/index.ts';
import { startDemoFleet } from '../../services/cli/demo.ts';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { loadConfig } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { eventually, TEST_ADMIN_KEY } from '../helpers/env.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const INFLUX_IMAGE = 'influxdb:2.7';
const GRAFANA_IMAGE = 'grafana/grafana-oss:11.4.0';
const ORG = 'sus';
const BUCKET = 'sus';
const TOKEN = 'sus-containers-test-token-0123456789abcdef';

/** Why the suite cannot run here, or undefined when a container engine answers. */
async function noEngine(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (err) {
    return `no Docker engine reachable (${(err as Error).message.split('\n')[0]})`;
  }
}

const skipReason = await noEngine();
if (skipReason) console.warn(`[test:containers] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('dashboards in Grafana against InfluxDB 2.7 (containers)', () => {
  let network: StartedNetwork;
  let influxdb: StartedTestContainer;
  let grafana: StartedTestContainer;
  let platform: Platform | undefined;
  let stopFleet: (() => Promise<void>) | undefined;
  let grafanaUrl: string;
  const auth = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
  const grafanaGet = async (p: string) => {
    const res = await fetch(`${grafanaUrl}${p}`, { headers: { Authorization: auth } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    network = await new Network().start();
    influxdb = await new GenericContainer(INFLUX_IMAGE)
      .withNetwork(network)
      .withNetworkAliases('influxdb')
      .withExposedPorts(8086)
      .withEnvironment({
        DOCKER_INFLUXDB_INIT_MODE: 'setup',
        DOCKER_INFLUXDB_INIT_USERNAME: 'sus-admin',
        DOCKER_INFLUXDB_INIT_PASSWORD: 'sus-admin-password',
        DOCKER_INFLUXDB_INIT_ORG: ORG,
        DOCKER_INFLUXDB_INIT_BUCKET: BUCKET,
        DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: TOKEN,
      })
      .withCopyDirectoriesToContainer([
        { source: path.join(ROOT, 'infra/compose/influxdb-init'), target: '/docker-entrypoint-initdb.d' },
      ])
      .withWaitStrategy(Wait.forHttp('/health', 8086).forStatusCode(200))
      .start();
    const influxUrl = `http://${influxdb.getHost()}:${influxdb.getMappedPort(8086)}`;

    // The platform writes through the v2 API and reads InfluxQL through the v1 compatibility API.
    const config = loadConfig({
      SUS_HTTP_HOST: '127.0.0.1',
      SUS_HTTP_PORT: '0',
      SUS_MQTT_HOST: '127.0.0.1',
      SUS_MQTT_PORT: '0',
      SUS_DATA_DIR: 'memory://',
      SUS_ADMIN_KEY: TEST_ADMIN_KEY,
      INFLUX_URL: influxUrl,
      INFLUX_API: 'v2',
      INFLUX_ORG: ORG,
      INFLUX_DB: BUCKET,
      INFLUX_TOKEN: TOKEN,
      SUS_WRITE_FLUSH_MS: '100',
      LOG_LEVEL: 'silent',
    });
    const started = await startPlatform(config, silentLogger, { broker: true, api: false });
    platform = started;
    const sim = await startDemoFleet(started.registry, {
      mqttPort: started.mqttPort!,
      count: 48,
      intervalMs: 1000,
      log: silentLogger,
    });
    stopFleet = () => sim.stop();
    const influx = new InfluxQuery(config);
    await eventually(
      async () => (await influx.query('SELECT count("value") FROM "pm2_5"'))[0]?.length ?? 0,
      (n) => n > 0,
      30_000,
    );

    grafana = await new GenericContainer(GRAFANA_IMAGE)
      .withNetwork(network)
      .withExposedPorts(3000)
      .withEnvironment({
        GF_SECURITY_ADMIN_USER: 'admin',
        GF_SECURITY_ADMIN_PASSWORD: 'admin',
        SUS_GRAFANA_INFLUX_URL: 'http://influxdb:8086',
        SUS_GRAFANA_INFLUX_DB: BUCKET,
        SUS_GRAFANA_INFLUX_USER: 'grafana',
        SUS_GRAFANA_INFLUX_PASSWORD: TOKEN,
      })
      .withCopyDirectoriesToContainer([
        { source: path.join(ROOT, 'dashboards/provisioning'), target: '/etc/grafana/provisioning' },
        { source: path.join(ROOT, 'dashboards/generated'), target: '/var/lib/grafana/dashboards/sus' },
      ])
      .withCopyFilesToContainer([
        {
          source: path.join(ROOT, 'dashboards/gazetteer', GAZETTEER_FILE),
          target: `/usr/share/grafana/public/gazetteer/${GAZETTEER_FILE}`,
        },
      ])
      .withWaitStrategy(Wait.forHttp('/api/health', 3000).forStatusCode(200))
      .start();
    grafanaUrl = `http://${grafana.getHost()}:${grafana.getMappedPort(3000)}`;
  });

  afterAll(async () => {
    await stopFleet?.();
    await platform?.stop();
    await grafana?.stop();
    await influxdb?.stop();
    await network?.stop();
  });

  it('reports the provisioned InfluxDB data source healthy', async () => {
    const health = await grafanaGet(`/api/datasources/uid/${DATASOURCE_UID}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('OK');
  });

  it('loads every provisioned dashboard with all its panels', async () => {
    const loaded: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const d of DASHBOARDS) {
      const built = d.build();
      const res = await grafanaGet(`/api/dashboards/uid/${built.uid}`);
      const dashboard = res.body.dashboard as { title?: string; panels?: unknown[] } | undefined;
      const meta = res.body.meta as { provisioned?: boolean } | undefined;
      loaded[d.file] = [res.status, dashboard?.title, dashboard?.panels?.length, meta?.provisioned];
      expected[d.file] = [200, built.title, built.panels?.length, true];
    }
    expect(loaded).toStrictEqual(expected);
  });
});
