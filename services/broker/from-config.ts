import { readFileSync } from 'node:fs';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import type { LineSink } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import type { Registry } from '../registry/index.ts';
import { type BrokerOptions, type StaReadAccess, SusBroker, type UplinkHandler } from './broker.ts';
import { LinePresenceSink, type PresenceSink } from './presence.ts';

function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SusError('SUS_ERR_CONFIG', `${setting}: cannot read ${file}: ${(err as Error).message}`, 500, {
      field: setting,
    });
  }
}

/** The broker's listener and limit settings from the environment (SUS_MQTT_*, REDIS_URL). */
export function brokerOptions(config: Config): BrokerOptions {
  const { SUS_MQTT_TLS_CERT: cert, SUS_MQTT_TLS_KEY: key, SUS_MQTT_TLS_CA: ca } = config;
  if ((cert === undefined) !== (key === undefined)) {
    throw new SusError('SUS_ERR_CONFIG', 'SUS_MQTT_TLS_CERT and SUS_MQTT_TLS_KEY must be set together', 500, {
      field: cert === undefined ? 'SUS_MQTT_TLS_CERT' : 'SUS_MQTT_TLS_KEY',
    });
  }
  return {
    host: config.SUS_MQTT_HOST,
    port: config.SUS_MQTT_PORT,
    tcp: config.SUS_MQTT_TCP === 'on',
    tls:
      cert && key
        ? {
            port: config.SUS_MQTTS_PORT,
            cert: readPem(cert, 'SUS_MQTT_TLS_CERT'),
            key: readPem(key, 'SUS_MQTT_TLS_KEY'),
            ca: ca ? readPem(ca, 'SUS_MQTT_TLS_CA') : undefined,
          }
        : undefined,
    maxPayloadBytes: config.SUS_MAX_PAYLOAD_BYTES,
    maxConnections: config.SUS_MQTT_MAX_CONNECTIONS,
    maxClientIdLength: config.SUS_MQTT_MAX_CLIENT_ID,
    maxTopicLevels: config.SUS_MQTT_MAX_TOPIC_LEVELS,
    keepaliveLimitS: config.SUS_MQTT_KEEPALIVE_LIMIT_S,
    drainTimeoutMs: config.SUS_MQTT_DRAIN_TIMEOUT_MS,
    throttle: {
      freeFailures: config.SUS_MQTT_AUTH_FREE_FAILURES,
      maxFailures: config.SUS_MQTT_AUTH_MAX_FAILURES,
      addressFreeFailures: config.SUS_MQTT_AUTH_ADDRESS_FREE_FAILURES,
      baseDelayMs: config.SUS_MQTT_AUTH_DELAY_MS,
      windowMs: config.SUS_MQTT_AUTH_WINDOW_S * 1000,
    },
    maxSubscriptions: config.SUS_MQTT_MAX_SUBSCRIPTIONS,
    sessionQueueMessages: config.SUS_MQTT_SESSION_QUEUE_MESSAGES,
    lastSeenFlushMs: config.SUS_LAST_SEEN_FLUSH_MS,
    redisUrl: config.REDIS_URL,
    redisPrefix: config.SUS_REDIS_PREFIX,
    registryTimeoutMs: config.SUS_REGISTRY_TIMEOUT_MS,
  };
}

/**
 * A broker wired to the registry (credentials, rotation, last-seen, downlinks), presence and metrics. `device_status`
 * points go to `lines` (ingest's durable spool in the same process); without it presence is the status topic only.
 */
export function createBroker(
  config: Config,
  registry: Registry,
  log: Logger,
  metrics: MetricsRegistry,
  onUplink: UplinkHandler,
  lines?: LineSink,
  /** Told of each presence change too (the alert engine: an offline device is silent at once). */
  onPresence?: (device: string, online: boolean, at: number) => void,
  sta?: StaReadAccess,
): SusBroker {
  const sink = lines && new LinePresenceSink(lines, log);
  const presence: PresenceSink | undefined = onPresence
    ? {
        write(device, online, at) {
          sink?.write(device, online, at);
          onPresence(device.id, online, at);
        },
        close: async () => sink?.close(),
      }
    : sink;
  return new SusBroker(registry, log, brokerOptions(config), onUplink, {
    metrics,
    presence,
    lastSeen: registry,
    changes: registry,
    downlinks: registry.downlinks,
    ...(sta ? { sta } : {}),
  });
}
