import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { type BrokerDeps, type BrokerOptions, LinePresenceSink, SusBroker } from '../../../services/broker/index.ts';
import type { Config } from '../../../services/common/config.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../../../services/common/metrics.ts';
import type { Uplink } from '../../../services/common/uplink.ts';
import { createIngestService } from '../../../services/ingest/index.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';
import { testConfig } from '../../helpers/env.ts';

export interface Harness {
  config: Config;
  registry: Registry;
  broker: SusBroker;
  metrics: MetricsRegistry;
  influx: InfluxQuery;
  uplinks: Uplink[];
  url: string;
  /** Registers a device of the `environment` department; returns its MQTT password. */
  device(id: string): Promise<string>;
  /** A real mqtt client without reconnects; closed by `stop()`. */
  connect(options: IClientOptions, url?: string): Promise<MqttClient>;
  stop(): Promise<void>;
}

/**
 * A real SusBroker on a free port with a real registry (in-memory PGlite), presence through a real ingest spool into
 * InfluxDB and a metrics registry: what `sus broker` composes, except that uplinks are collected instead of ingested.
 */
export async function startBroker(
  options: Partial<BrokerOptions> = {},
  deps: Partial<BrokerDeps> = {},
  /** Shared by the brokers of one test file: opening an embedded registry is the slow part of a start. */
  shared?: Registry,
): Promise<Harness> {
  const config = testConfig();
  const registry = shared ?? (await openRegistry(config));
  await registry.ensureDepartment({ id: 'environment', name: 'Environment Office' });
  const influx = new InfluxQuery(config);
  await influx.ensureDatabase();
  const metrics = createMetricsRegistry(false);
  // Only its spool and writer are used here: presence goes the way it goes in `sus broker`.
  const ingest = createIngestService(config, registry, silentLogger);
  await ingest.start();
  const uplinks: Uplink[] = [];
  const broker = new SusBroker(
    registry,
    silentLogger,
    { host: '127.0.0.1', port: 0, maxPayloadBytes: 256 * 1024, lastSeenFlushMs: 100, ...options },
    async (u) => {
      uplinks.push(u);
    },
    {
      metrics,
      presence: new LinePresenceSink(ingest.spool, silentLogger),
      lastSeen: registry,
      changes: registry,
      downlinks: registry.downlinks,
      ...deps,
    },
  );
  await broker.start();
  const clients: MqttClient[] = [];
  const url = `mqtt://127.0.0.1:${broker.port}`;
  return {
    config,
    registry,
    broker,
    metrics,
    influx,
    uplinks,
    url,
    async device(id) {
      return (await registry.createDevice({ id, name: id, department: 'environment', type: 'air_quality' })).secret;
    },
    async connect(opts, to = url) {
      const client = await connectAsync(to, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }, false);
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await broker.stop();
      await ingest.stop();
      await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => undefined);
      if (!shared) await registry.close();
    },
  };
}

/** One in-memory registry for the brokers of a test file. */
export async function testRegistry(): Promise<Registry> {
  return openRegistry(testConfig());
}

/** The CONNACK return code of a refused connect (mqtt.js puts it on the error as `code`). */
export async function connackCode(url: string, options: IClientOptions): Promise<number | 'connected'> {
  try {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }, false);
    await client.endAsync(true);
    return 'connected';
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** Resolves when the client's connection is closed by the broker. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}
