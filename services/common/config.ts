import { z } from 'zod';

/** Every setting of the platform, read from environment variables. The README's configuration table mirrors it. */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const ConfigSchema = z
  .object({
    SUS_HTTP_HOST: z.string().default('0.0.0.0'),
    SUS_HTTP_PORT: port(8080),
    SUS_MQTT_HOST: z.string().default('0.0.0.0'),
    SUS_MQTT_PORT: port(1883),
    SUS_DATA_DIR: z.string().min(1).default('./var'),
    SUS_ADMIN_KEY: optionalText.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
    SUS_INFLUX_PORT: port(8086),
    INFLUX_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
    INFLUX_DB: z.string().min(1).default('sus'),
    INFLUX_ORG: z.string().default(''),
    INFLUX_TOKEN: optionalText,
    INFLUX_USERNAME: optionalText,
    INFLUX_PASSWORD: optionalText,
    INFLUX_API: z.enum(['v2', 'v1']).default('v2'),
    INFLUX_TIMEOUT_MS: positiveInt(10_000),
    DATABASE_URL: optionalText.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SUS_WRITE_BATCH_SIZE: positiveInt(5000),
    SUS_WRITE_FLUSH_MS: positiveInt(1000),
    SUS_MAX_PAYLOAD_BYTES: positiveInt(256 * 1024),
    SUS_MAX_AGE_S: positiveInt(7 * 24 * 3600),
    SUS_MAX_SKEW_S: positiveInt(300),
    SUS_DEAD_LETTER_RAW_BYTES: positiveInt(16 * 1024),
    SUS_REGISTRY_TIMEOUT_MS: positiveInt(10_000).describe(
      'how long ingest waits for the registry (device lookup, dead-letter insert) before it leaves a message unacknowledged so its sender retries',
    ),
    // Ingest (layer 2): out-of-range values rejected or stored flagged; an extra device-profile directory (its
    // profiles override the built-in devices/profiles of the same type); external MQTT integrations (JSON file).
    SUS_PLAUSIBILITY: z.enum(['reject', 'flag']).default('reject'),
    SUS_PROFILES_DIR: optionalText,
    SUS_INTEGRATIONS_FILE: optionalText,
    SUS_QUERY_MAX_POINTS: positiveInt(10_000),
    /** MQTT URL(s) devices are told to connect to in provisioning bundles (comma-separated); default from the host. */
    SUS_PUBLIC_MQTT_URL: optionalText,
    SUS_API_RATE_LIMIT: positiveInt(1200),
    SUS_SILENT_FACTOR: positiveInt(3),
    SUS_DEFAULT_INTERVAL_S: positiveInt(300),
    SUS_CLAIM_TTL_S: positiveInt(24 * 3600),
    SUS_STREAM_REPLAY: positiveInt(10_000),
    SUS_DEMO_DEVICES: positiveInt(48),
    SUS_DEMO_INTERVAL_MS: positiveInt(5000),
    // `sus device …` talks to a running platform's API: its URL (default http://127.0.0.1:SUS_HTTP_PORT) and key.
    SUS_API_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
    SUS_API_KEY: optionalText,
    // Ingest durable spool (SUS_DATA_DIR/spool) and self-metrics.
    SUS_SPOOL_MAX_BYTES: positiveInt(1024 * 1024 * 1024),
    SUS_SPOOL_SEGMENT_BYTES: positiveInt(16 * 1024 * 1024).describe(
      'size at which the spool starts a new segment file; drained segment files are deleted whole',
    ),
    SUS_SELF_METRICS_INTERVAL_S: positiveInt(10),
    // Broker (layer 1): listeners, limits, failed-login throttling, presence, cluster mode.
    SUS_MQTT_TCP: z.enum(['on', 'off']).default('on'),
    SUS_MQTT_WS: z.enum(['on', 'off']).default('on'),
    SUS_MQTTS_PORT: port(8883),
    SUS_MQTT_TLS_CERT: optionalText,
    SUS_MQTT_TLS_KEY: optionalText,
    SUS_MQTT_TLS_CA: optionalText,
    SUS_MQTT_MAX_CONNECTIONS: positiveInt(50_000),
    SUS_MQTT_MAX_CLIENT_ID: positiveInt(128),
    SUS_MQTT_MAX_TOPIC_LEVELS: positiveInt(16),
    SUS_MQTT_KEEPALIVE_LIMIT_S: positiveInt(3600),
    SUS_MQTT_DRAIN_TIMEOUT_MS: positiveInt(10_000),
    SUS_MQTT_AUTH_FREE_FAILURES: positiveInt(5),
    SUS_MQTT_AUTH_MAX_FAILURES: positiveInt(20),
    SUS_MQTT_AUTH_DELAY_MS: positiveInt(200),
    SUS_MQTT_AUTH_WINDOW_S: positiveInt(900),
    SUS_MQTT_MAX_SUBSCRIPTIONS: positiveInt(100).describe(
      'topic filters one MQTT connection may hold; one more is refused (SUBACK 0x80) and the connection closed',
    ),
    SUS_MQTT_SESSION_QUEUE_MESSAGES: positiveInt(10_000).describe(
      'messages the broker keeps per persistent MQTT session (clean: false) until its client acknowledges them; newer ones are dropped and counted (single node only)',
    ),
    SUS_MQTT_AUTH_ADDRESS_FREE_FAILURES: positiveInt(20).describe(
      'failed MQTT logins from one source address, all usernames together, answered without delay; each further one doubles the delay of every login from that address (at most this many may wait at once)',
    ),
    SUS_LAST_SEEN_FLUSH_MS: positiveInt(5000),
    REDIS_URL: optionalText.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  })
  .transform((c) => ({
    ...c,
    // The local stack serves InfluxDB on SUS_INFLUX_PORT; an explicit INFLUX_URL always wins.
    INFLUX_URL: c.INFLUX_URL ?? `http://127.0.0.1:${c.SUS_INFLUX_PORT}`,
  }));

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  readonly code = 'SUS_ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates the whole environment at once so an operator sees every problem in one go. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // A blank variable (`SUS_HTTP_PORT=` in an env file) means "unset": it takes the default, never 0 or "".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = ConfigSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(environment)';
    return `${key}: ${issue.message} (got ${JSON.stringify(env[key] ?? null)})`;
  });
  throw new ConfigError(problems);
}
