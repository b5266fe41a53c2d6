import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApi, StaMqttFeed } from '../api/index.ts';
import { BrokerSelfMetrics, createBroker, type SusBroker } from '../broker/index.ts';
import { catalogue } from '../common/catalogue.ts';
import { ElectedDuties } from '../common/cluster/lease.ts';
import { LiveFeedPublisher, LiveFeedReader } from '../common/cluster/live-feed.ts';
import { closeRedis, redisConnection } from '../common/cluster/redis.ts';
import type { Config } from '../common/config.ts';
import { HealthServer } from '../common/health-server.ts';
import { InfluxQuery } from '../common/influx.ts';
import type { Logger } from '../common/logger.ts';
import { MemoryReducer } from '../common/memory-reducer.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../common/metrics.ts';
import { type Service, ServiceGroup } from '../common/service.ts';
import { alertTopic } from '../common/topics.ts';
import {
  type Alerting,
  createAlerting,
  createIngestService,
  createRollupService,
  DeviceTreeSource,
  deviceTreeOptions,
  type IngestService,
  IntegrationSources,
  loadIntegrations,
  type RollupService,
} from '../ingest/index.ts';
import {
  openRegistry,
  type Registry,
  RegistryHousekeeping,
  rebuildLatest,
  relayChanges,
  retentionSettings,
} from '../registry/index.ts';
import { ClusterBus, clusterAlerts, downlinkQueue, leaseOptions, redisPlace } from './cluster.ts';
import { DataDirLock } from './data-dir-lock.ts';

export interface PlatformParts {
  broker?: boolean;
  api?: boolean;
  /** Ingest alone, as an MQTT client of another broker (SUS_INGEST_MQTT_URL): `sus ingest`. */
  ingest?: boolean;
}

/** A running platform: the layers this process hosts, started in dependency order and stopped in reverse (ServiceGroup). */
export interface Platform {
  registry: Registry;
  influx: InfluxQuery;
  metrics: MetricsRegistry;
  broker?: SusBroker;
  ingest?: IngestService;
  /** `sus ingest`: the subscription to the other broker's device tree. */
  source?: DeviceTreeSource;
  /** Rules evaluated in the ingest stream and their webhooks (with the broker). */
  alerting?: Alerting;
  /** Rollups, retention and their self-metrics: run where ingest runs. */
  rollups?: RollupService;
  api?: FastifyInstance;
  mqttPort?: number;
  httpPort?: number;
  /** /livez and /readyz of a node without the API (SUS_HEALTH_PORT). */
  healthPort?: number;
  /** Set once stop() began: readiness answers 503 from then on. */
  draining: boolean;
  /** Registry housekeeping, webhooks, silent-device checks, integrations: here, or on the cluster's lease holder. */
  elected?: ElectedDuties;
  /** Settles when the latest-value store is warm: at once, or once an empty one was rebuilt from InfluxDB. */
  latestReady: Promise<void>;
  /** Set when this start created the bootstrap admin key (shown once). */
  generatedAdminKey?: string;
  stop(): Promise<void>;
}

const BOOTSTRAP_KEY = 'bootstrap-admin';

/**
 * The first admin key: SUS_ADMIN_KEY, or one generated on the very first start (returned to be shown once). A
 * revocation sticks: a revoked SUS_ADMIN_KEY is not brought back, and a revoked generated key is not replaced by a
 * new one at the next start (that would print a fresh admin secret into the log after every revocation). The
 * platform still starts (devices keep reporting); the log says how to get an admin key again.
 */
async function bootstrapAdminKey(registry: Registry, config: Config, log: Logger): Promise<string | undefined> {
  const admin = { name: BOOTSTRAP_KEY, department: null, scopes: ['admin' as const] };
  if (config.SUS_ADMIN_KEY) {
    if ((await registry.keys.ensure(admin, config.SUS_ADMIN_KEY)) === 'revoked')
      log.error(
        'SUS_ADMIN_KEY is a revoked API key and stays revoked: set SUS_ADMIN_KEY to a new key (24 characters or more), ' +
          'or mint one with `sus keys create --name admin --scopes admin`',
      );
    return undefined;
  }
  const existing = await registry.keys.named(BOOTSTRAP_KEY);
  if (existing === 'revoked')
    log.warn(
      'the generated bootstrap admin key was revoked; no new one is generated: mint an admin key with ' +
        '`sus keys create --name admin --scopes admin`, or set SUS_ADMIN_KEY',
    );
  if (existing !== 'none') return undefined;
  return (await registry.keys.create(admin)).key;
}

/** The API's HTTP listener, which MQTT over WebSocket shares (ws://host:port/mqtt: browsers need no second port). */
function httpService(api: FastifyInstance, config: Config, broker: SusBroker | undefined): Service {
  return {
    async start() {
      await api.listen({ host: config.SUS_HTTP_HOST, port: config.SUS_HTTP_PORT });
      if (broker && config.SUS_MQTT_WS === 'on') broker.attachWebSocket(api.server);
    },
    stop: () => api.close(),
  };
}

const commandOf = (parts: PlatformParts) =>
  parts.broker && parts.api ? 'sus run' : parts.broker ? 'sus broker' : parts.ingest ? 'sus ingest' : 'sus api';

/**
 * Composes the layers for one process (`sus run` hosts them all). Ingest runs in-process next to the broker and
 * takes its messages straight from it: no second MQTT hop.
 */
export async function startPlatform(
  config: Config,
  log: Logger,
  parts: PlatformParts = { broker: true, api: true },
): Promise<Platform> {
  // Taken before anything touches the data directory: a second process on it would cut the first's spool tail on
  // recovery and open the embedded registry beside it.
  const usesDataDir = config.SUS_DATA_DIR !== 'memory://' && (parts.broker || parts.ingest || !config.DATABASE_URL);
  // Checked before anything starts: `sus ingest` without a broker to subscribe to is a configuration error.
  const sourceOptions = parts.ingest ? deviceTreeOptions(config) : undefined;
  const lock = usesDataDir ? await DataDirLock.acquire(config.SUS_DATA_DIR, commandOf(parts)) : undefined;
  const services = new ServiceGroup(log);
  if (lock) services.adopt(() => lock.release());
  let registry: Registry;
  try {
    registry = await openRegistry(config);
  } catch (err) {
    await services.stop();
    throw err;
  }
  services.adopt(() => registry.close());
  const influx = new InfluxQuery(config);
  const metrics = createMetricsRegistry();
  const platform: Platform = {
    registry,
    influx,
    metrics,
    latestReady: Promise.resolve(),
    draining: false,
    // The drain: /readyz answers 503 at once (the load balancer stops sending), then the parts stop in reverse
    // order: the elected duties hand their lease over, the API finishes its requests, the broker closes its
    // clients (they reconnect to another node), ingest flushes its batches.
    stop: () => {
      platform.draining = true;
      return services.stop();
    },
  };
  const ready = async () => {
    if (platform.draining) return false;
    return registry.ping().then(
      () => true,
      () => false,
    );
  };
  try {
    if (config.INFLUX_API === 'v1') {
      await influx
        .ensureDatabase()
        .catch((err: Error) => log.warn({ err: err.message }, 'could not create the InfluxDB database'));
    }
    platform.generatedAdminKey = await bootstrapAdminKey(registry, config, log);
    // Warm after a restart: an empty store is rebuilt from InfluxDB in the background (idempotent, so nodes starting
    // together may both do it); ingest's newer values win over what the rebuild reads. A stop waits for it: a
    // rebuild cut short would leave a store that is not empty, so the next start would not complete it.
    platform.latestReady = registry.latest.isEmpty().then(async (empty) => {
      if (empty) await rebuildLatest(registry.latest, influx, catalogue, log.child({ component: 'latest-values' }));
    });
    platform.latestReady = platform.latestReady.catch((err: Error) =>
      log.warn(
        { err: err.message },
        'latest-value store rebuild failed; latest reads show what ingest writes from now',
      ),
    );
    services.adopt(() => platform.latestReady);
    // Cluster mode (REDIS_URL): registry changes reach every node's caches, work done once runs under a lease.
    const place = redisPlace(config);
    const clusterLog = log.child({ component: 'cluster' });
    const bus = place ? await services.start(new ClusterBus(place, clusterLog)) : undefined;
    if (bus) {
      const stopRelay = relayChanges(registry, bus, (err) =>
        clusterLog.warn({ err: err.message }, 'a registry change did not reach the other nodes'),
      );
      services.adopt(async () => stopRelay());
    }
    // The elected duties: on the only node, or in a cluster on the broker node that holds the lease (most of the
    // duties are ingest's: rollups, webhooks, silent devices, integrations); API nodes of a cluster run none.
    const duties: Service[] = [
      new RegistryHousekeeping(registry, retentionSettings(config), log.child({ component: 'registry-housekeeping' })),
    ];
    const elected =
      place && bus
        ? parts.broker
          ? new ElectedDuties(duties, { place, holder: bus.node, options: leaseOptions(config) }, clusterLog)
          : undefined
        : new ElectedDuties(duties, undefined, clusterLog);
    platform.elected = elected;
    const leading = () => elected?.leading ?? false;
    // In one process with the broker, API downlinks go straight to it; in a cluster through Redis to any broker node.
    const queue =
      place &&
      downlinkQueue(
        place,
        parts.broker
          ? {
              publishCommand: (c) => platform.broker!.publishCommand(c),
              publishConfig: (c) => platform.broker!.publishConfig(c),
            }
          : undefined,
        clusterLog,
      );

    if (parts.broker || parts.ingest) {
      const ingest = createIngestService(config, registry, log, metrics);
      // Before ingest starts: batches recovered from the spool are looked into for late readings. Stopped after
      // ingest (the group stops in reverse order), whose last drained batches still mark their windows.
      const rollups = createRollupService(config, registry, ingest, influx, log, metrics, place && leading);
      await services.start({ start: async () => rollups.start(), stop: () => rollups.stop() });
      platform.rollups = rollups;
      await services.start(ingest);
      // Evaluates rules on what ingest accepted; its sus_alert points share the spool with the readings.
      const alerting = await services.start(
        createAlerting(
          config,
          registry,
          ingest.ingestor,
          ingest.spool,
          log,
          influx,
          // Every node writes last-seen times each flush: reading them more often would show nothing new.
          place && { leading, lastSeenMs: Math.max(1000, config.SUS_LAST_SEEN_FLUSH_MS) },
        ),
      );
      platform.alerting = alerting;
      if (place) {
        const { notifier } = alerting;
        duties.push({ start: async () => notifier.start(), stop: () => notifier.stop() });
        // Every API node's live stream reads what this node ingests.
        await services.start(
          new LiveFeedPublisher(ingest.ingestor, place, { maxLen: config.SUS_STREAM_REPLAY }, clusterLog),
        );
      }
      if (config.SUS_INTEGRATIONS_FILE) {
        // External MQTT brokers (The Things Stack, ChirpStack, …) feed the same pipeline as the own broker: one
        // subscription per city, so an elected duty in a cluster.
        const integrations = loadIntegrations(config.SUS_INTEGRATIONS_FILE);
        duties.push(new IntegrationSources(integrations, ingest.ingestor, log));
      }
      platform.ingest = ingest;
    }
    const ingest = platform.ingest;
    if (sourceOptions && ingest) {
      // The same pipeline as the embedded broker's, fed by the city's broker: one Uplink per message, PUBACK once spooled.
      platform.source = await services.start(
        new DeviceTreeSource(sourceOptions, ingest.ingestor, log.child({ component: 'mqtt-source' })),
      );
    }
    // In a cluster the readings of every broker node come back through Redis, so the API's stream and the
    // SensorThings MQTT readers of this node see them all, not only what this node ingested.
    const clusterFeed =
      place && (parts.api || (parts.broker && ingest))
        ? await services.start(new LiveFeedReader(place, { replay: config.SUS_STREAM_REPLAY }, clusterLog))
        : undefined;
    if (parts.broker && ingest) {
      const brokerLog = log.child({ component: 'broker' });
      // SensorThings MQTT readers: their subscriptions, and each accepted reading or registry change they may read.
      const sta = new StaMqttFeed(
        clusterFeed ?? ingest.ingestor,
        registry,
        catalogue,
        config.SUS_PUBLIC_API_URL,
        brokerLog,
      );
      // Presence and broker self-metrics share ingest's durable spool with the readings.
      const broker = await services.start(
        createBroker(
          config,
          registry,
          brokerLog,
          metrics,
          (u) => ingest.ingestor.handle(u),
          ingest.spool,
          (device, online) => platform.alerting?.engine.presence(device, online),
          sta,
        ),
      );
      await services.start(sta);
      await services.start(
        new BrokerSelfMetrics({
          broker,
          sink: ingest.spool,
          node: hostname(),
          intervalMs: config.SUS_SELF_METRICS_INTERVAL_S * 1000,
          log: brokerLog,
        }),
      );
      Object.assign(platform, { broker, mqttPort: broker.port });
      // Alert state changes on sus/v1/alerts/{department}/{rule}/{device} (QoS 1) for the department's service
      // accounts (acl.ts); off ingest's path: the engine emits once the registry has the change.
      platform.alerting?.engine.on('alert', (n) => {
        broker
          .publish(alertTopic(n.department, n.rule.id, n.device), Buffer.from(JSON.stringify(n)))
          .catch((err: Error) => brokerLog.warn({ err: err.message, alert: n.alert }, 'alert not published on MQTT'));
      });
      Object.assign(platform, { broker, ingest, mqttPort: broker.port });
    }
    if (queue) await services.start(queue);
    // Alert notices of every broker node reach every API node's stream.
    const alerts = bus ? clusterAlerts(bus, platform.alerting?.engine, clusterLog) : platform.alerting?.engine;
    const live = parts.api ? clusterFeed : undefined;
    let sharedLimits: { redis: Redis; prefix: string } | undefined;
    if (parts.api && place) {
      const redis = redisConnection(place.url);
      redis.on('error', (err: Error) => clusterLog.debug({ err: err.message }, 'rate limits: Redis error'));
      services.adopt(() => closeRedis(redis));
      sharedLimits = { redis, prefix: place.prefix };
    }
    if (parts.api) {
      const api = await buildApi(
        {
          registry,
          influx,
          catalogue,
          // Provisioning bundles name the port the broker really listens on (SUS_MQTT_PORT=0 picks a free one).
          config: platform.mqttPort === undefined ? config : { ...config, SUS_MQTT_PORT: platform.mqttPort },
          metrics,
          downlink: queue ?? platform.broker,
          // The SSE stream takes readings straight from in-process ingest, in a cluster from every broker node through
          // Redis; `sus api` alone without Redis has no live source.
          live: live ?? platform.ingest?.ingestor,
          liveIdsShared: live !== undefined,
          sharedLimits,
          ready,
          // HTTP push and dead-letter replay run through the same in-process pipeline.
          ingest: platform.ingest?.ingestor,
          // Alert events for the stream, and re-sent deliveries go out at once.
          alerts,
        },
        log.child({ component: 'api' }),
      );
      await services.start(httpService(api, config, platform.broker));
      const address = api.server.address();
      Object.assign(platform, {
        api,
        httpPort: typeof address === 'object' && address ? address.port : config.SUS_HTTP_PORT,
      });
      log.info({ port: platform.httpPort }, 'API listening; docs at /docs');
    }
    if (parts.broker && !parts.api && config.SUS_HEALTH_PORT !== undefined) {
      const health = await services.start(new HealthServer(config.SUS_HTTP_HOST, config.SUS_HEALTH_PORT, ready));
      platform.healthPort = health.boundPort;
    }
    if (elected) await services.start(elected);
    if (config.SUS_MEMORY_REDUCER_S > 0) {
      await services.start(
        new MemoryReducer({ intervalMs: config.SUS_MEMORY_REDUCER_S * 1000 }, log.child({ component: 'memory' })),
      );
    }
  } catch (err) {
    await platform.stop();
    throw err;
  }
  return platform;
}
