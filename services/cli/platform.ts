import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/index.ts';
import { SusBroker } from '../broker/index.ts';
import { catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import { InfluxQuery } from '../common/influx.ts';
import type { Logger } from '../common/logger.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../common/metrics.ts';
import { createIngestService, type IngestService } from '../ingest/index.ts';
import { openRegistry, type Registry } from '../registry/index.ts';

export interface PlatformParts {
  broker?: boolean;
  api?: boolean;
}

/** A running platform: the layers this process hosts, started in dependency order and stopped in reverse. */
export interface Platform {
  registry: Registry;
  influx: InfluxQuery;
  metrics: MetricsRegistry;
  broker?: SusBroker;
  ingest?: IngestService;
  api?: FastifyInstance;
  mqttPort?: number;
  httpPort?: number;
  /** Set when this start created the bootstrap admin key (shown once). */
  generatedAdminKey?: string;
  stop(): Promise<void>;
}

const BOOTSTRAP_KEY = 'bootstrap-admin';

async function bootstrapAdminKey(registry: Registry, config: Config): Promise<string | undefined> {
  const admin = { name: BOOTSTRAP_KEY, department: null, scopes: ['admin' as const] };
  if (config.SUS_ADMIN_KEY) {
    await registry.ensureApiKey(admin, config.SUS_ADMIN_KEY);
    return undefined;
  }
  if (await registry.hasActiveKeyNamed(BOOTSTRAP_KEY)) return undefined;
  return (await registry.createApiKey(admin)).key;
}

/**
 * Composes the layers for one process (`sus run` hosts them all). Ingest runs in-process next to the broker and
 * takes its messages straight from it: no second MQTT hop.
 */
export async function startPlatform(
  config: Config,
  log: Logger,
  parts: PlatformParts = { broker: true, api: true },
): Promise<Platform> {
  const registry = await openRegistry(config);
  const influx = new InfluxQuery(config);
  const metrics = createMetricsRegistry();
  const stoppers: Array<() => Promise<void>> = [() => registry.close()];
  const platform: Platform = {
    registry,
    influx,
    metrics,
    async stop() {
      for (const stop of stoppers.splice(0).reverse()) {
        await stop().catch((err: Error) => log.error({ err: err.message }, 'error during shutdown'));
      }
    },
  };
  try {
    if (config.INFLUX_API === 'v1') {
      await influx
        .ensureDatabase()
        .catch((err: Error) => log.warn({ err: err.message }, 'could not create the InfluxDB database'));
    }
    platform.generatedAdminKey = await bootstrapAdminKey(registry, config);

    if (parts.broker) {
      const ingest = createIngestService(config, registry, log);
      ingest.start();
      stoppers.push(() => ingest.stop());
      const broker = new SusBroker(
        registry,
        log.child({ component: 'broker' }),
        { host: config.SUS_MQTT_HOST, port: config.SUS_MQTT_PORT, maxPayloadBytes: config.SUS_MAX_PAYLOAD_BYTES },
        async (u) => {
          await ingest.ingestor.handle(u);
        },
      );
      await broker.start();
      stoppers.push(() => broker.stop());
      Object.assign(platform, { broker, ingest, mqttPort: broker.port });
    }
    if (parts.api) {
      const api = await buildApi({ registry, influx, catalogue, config, metrics }, log.child({ component: 'api' }));
      await api.listen({ host: config.SUS_HTTP_HOST, port: config.SUS_HTTP_PORT });
      stoppers.push(() => api.close());
      const address = api.server.address();
      Object.assign(platform, {
        api,
        httpPort: typeof address === 'object' && address ? address.port : config.SUS_HTTP_PORT,
      });
      log.info({ port: platform.httpPort }, 'API listening; docs at /docs');
    }
  } catch (err) {
    await platform.stop();
    throw err;
  }
  return platform;
}
