import { z } from 'zod';
import { parseNetworks } from './outbound-address.ts';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** Days data is kept; 0 keeps it forever. */
/** A whole number where 0 means off or forever (retention days, check intervals). */
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

/**
 * Every setting of the platform, read from environment variables. Each one's `.describe()` is its line in
 * docs/configuration.md (`npm run docs:build`; tests/docs fails when that file is stale).
 */
export const ConfigSchema = z
  .object({
    SUS_HTTP_HOST: z
      .string()
      .default('0.0.0.0')
      .describe('Address the API (and MQTT over WebSocket at /mqtt) listens on.'),
    SUS_HTTP_PORT: port(8080).describe('Port of the API and of MQTT over WebSocket; 0 picks a free port.'),
    SUS_MQTT_HOST: z.string().default('0.0.0.0').describe('Address the MQTT TCP and TLS listeners listen on.'),
    SUS_MQTT_PORT: port(1883).describe('Port of the plain MQTT TCP listener; 0 picks a free port.'),
    SUS_DATA_DIR: z
      .string()
      .min(1)
      .default('./var')
      .describe(
        "Data directory: embedded registry (registry/), durable spool (spool/), the local stack's InfluxDB, PostgreSQL and Redis data, logs; memory:// keeps the registry in memory and the spool in a temporary directory (tests).",
      ),
    SUS_ADMIN_KEY: optionalText
      .pipe(z.string().min(24, 'must be at least 24 characters').optional())
      .describe(
        'Bootstrap admin API key (at least 24 characters); unset, one is generated on first start and printed once.',
      ),
    SUS_INFLUX_PORT: port(8086).describe(
      'Port of the local InfluxDB that infra/stack.sh starts; unset INFLUX_URL means this port on 127.0.0.1.',
    ),
    INFLUX_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        'InfluxDB to read and write (http or https); unset, http://127.0.0.1:$SUS_INFLUX_PORT (the local stack). When set, npm start / npm test start no InfluxDB of their own.',
      ),
    INFLUX_DB: z
      .string()
      .min(1)
      .default('sus')
      .describe('Database (InfluxDB 1.x) or bucket (2.x, 3.x; mapped to an InfluxQL database by DBRP).'),
    INFLUX_ORG: z.string().default('').describe('Organisation (InfluxDB 2.x); ignored by 1.x.'),
    INFLUX_TOKEN: optionalText.describe('API token (InfluxDB 2.x, 3.x).'),
    INFLUX_USERNAME: optionalText.describe(
      'User name: Basic auth with INFLUX_API=v1, else sent as the token user:password (InfluxDB 1.8+).',
    ),
    INFLUX_PASSWORD: optionalText.describe('Password that goes with INFLUX_USERNAME.'),
    INFLUX_API: z
      .enum(['v2', 'v1'])
      .default('v2')
      .describe(
        "Write endpoint: v2 = /api/v2/write (InfluxDB 1.8+, 2.x, 3.x); v1 = /write of 1.x before 1.8 (Debian's 1.6; the local stack sets this).",
      ),
    INFLUX_TIMEOUT_MS: positiveInt(10_000).describe('Timeout of one InfluxDB request.'),
    DATABASE_URL: optionalText
      .pipe(
        z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .optional(),
      )
      .describe('PostgreSQL URL (postgres://…) of the registry; unset, embedded PGlite in $SUS_DATA_DIR/registry.'),
    SUS_REGISTRY_TIMEOUT_MS: positiveInt(10_000).describe(
      'Longest wait for the registry: a PostgreSQL connection, a statement, each registry call of an MQTT login, device publish or request; beyond it the call fails with SUS_ERR_REGISTRY_UNAVAILABLE (login: CONNACK 3; publish: no PUBACK, so the sender retries; HTTP: 503).',
    ),
    SUS_REGISTRY_MAX_WAITING: positiveInt(1000).describe(
      'Registry statements that may queue for one of the 10 PostgreSQL connections; one more fails at once with SUS_ERR_REGISTRY_UNAVAILABLE instead of adding to the wait.',
    ),
    SUS_REGISTRY_IDLE_TIMEOUT_MS: positiveInt(30_000).describe(
      'A pooled PostgreSQL connection unused this long is closed (opened again when needed).',
    ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe(
        'Log level (pino): fatal, error, warn, info, debug, trace or silent. Pretty on a terminal, JSON lines otherwise.',
      ),
    SUS_LOG_JSON: z
      .enum(['0', '1'])
      .default('0')
      .describe('1: JSON log lines even on a terminal (0: pretty on a terminal, JSON lines otherwise).'),
    SUS_WRITE_BATCH_SIZE: positiveInt(5000).describe('Lines per InfluxDB write of the spool drainer.'),
    SUS_WRITE_FLUSH_MS: positiveInt(1000).describe('Longest wait before a partial batch is written to InfluxDB.'),
    SUS_LATEST_FLUSH_MS: positiveInt(1000).describe(
      'Ingest writes the newest value of every device × quantity to the latest-value store in one batch this often.',
    ),
    SUS_MAX_PAYLOAD_BYTES: positiveInt(256 * 1024).describe(
      'Largest payload accepted from a device (MQTT and HTTP push); larger MQTT publishes are dropped and the client disconnected, larger pushes answered 413 before they are read.',
    ),
    SUS_MAX_AGE_S: positiveInt(7 * 24 * 3600).describe(
      'Oldest device time kept (7 days back); older readings get the receive time and the flag time_replaced.',
    ),
    SUS_MAX_SKEW_S: positiveInt(300).describe(
      'How far ahead of the receive time a device time may lie; beyond it the receive time is used (flag time_replaced).',
    ),
    SUS_DEAD_LETTER_RAW_BYTES: positiveInt(16 * 1024).describe(
      'Raw payload bytes kept per dead letter; a longer payload is stored truncated and cannot be replayed.',
    ),
    SUS_DEAD_LETTER_MAX_REASONS: positiveInt(100).describe(
      'Reasons kept per dead letter; the rest are counted by reason code in one last reason.',
    ),
    SUS_DEAD_LETTER_RATE: positiveInt(120).describe(
      'Dead letters one device files per SUS_DEAD_LETTER_RATE_WINDOW_S; its further rejects are counted in one summary entry.',
    ),
    SUS_DEAD_LETTER_RATE_WINDOW_S: positiveInt(600).describe('Window of SUS_DEAD_LETTER_RATE, in seconds.'),
    SUS_DEAD_LETTER_MAX_ROWS: positiveInt(200_000).describe(
      'Most dead letters kept; registry housekeeping deletes the oldest beyond it.',
    ),
    SUS_DEAD_LETTER_RETENTION_DAYS: nonNegativeInt(30).describe('Days a dead letter is kept (0: forever).'),
    SUS_ACK_RETENTION_DAYS: nonNegativeInt(90).describe(
      "Days devices' answers to downlinks (acks) are kept (0: forever).",
    ),
    SUS_AUDIT_RETENTION_DAYS: nonNegativeInt(3650).describe(
      'Days the audit log of shared reads, the data-trustee record, is kept (0: forever).',
    ),
    SUS_PLAUSIBILITY: z
      .enum(['reject', 'flag'])
      .default('reject')
      .describe(
        "Values outside the catalogue's plausible range: reject (dead letter) or flag (stored with the flag out_of_range).",
      ),
    SUS_PROFILES_DIR: optionalText.describe(
      'Extra device-profile directory; its profiles override the built-in devices/profiles of the same type.',
    ),
    SUS_INTEGRATIONS_FILE: optionalText.describe(
      'JSON file listing external MQTT integrations (The Things Stack, ChirpStack, any broker) that ingest subscribes to.',
    ),
    SUS_INGEST_MQTT_URL: optionalText
      .pipe(
        z
          .string()
          .regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
          .optional(),
      )
      .describe(
        'sus ingest: the MQTT broker the devices publish to (Mosquitto, EMQX, HiveMQ); ingest subscribes to their topic tree as a client.',
      ),
    SUS_INGEST_MQTT_USERNAME: optionalText.describe('sus ingest: user name at that broker.'),
    SUS_INGEST_MQTT_PASSWORD: optionalText.describe('sus ingest: password at that broker.'),
    SUS_INGEST_MQTT_CA: optionalText.describe(
      "sus ingest: PEM file of the CA of the broker's certificate (mqtts://, wss://); unset, the system's CAs.",
    ),
    SUS_INGEST_MQTT_CLIENT_ID: optionalText
      .pipe(z.string().max(128).optional())
      .describe(
        "sus ingest: client id, stable across restarts and one per node (the broker keeps the node's unacknowledged messages in the session under it); unset, sus-ingest-<hostname>.",
      ),
    SUS_INGEST_MQTT_TOPICS: z
      .string()
      .default('sus/v1/devices/+/up,sus/v1/devices/+/up/+')
      .transform((v) =>
        v
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== ''),
      )
      .pipe(
        z
          .array(z.string())
          .min(1, 'at least one topic filter')
          .refine(
            (list) => list.every((t) => !t.startsWith('$')),
            'topic filters must not start with $ (the shared subscription group is SUS_INGEST_MQTT_SHARE_GROUP)',
          ),
      )
      .describe("sus ingest: topic filters (comma-separated) subscribed with QoS 1: the devices' uplinks."),
    SUS_INGEST_MQTT_SHARE_GROUP: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _')
      .default('sus-ingest')
      .describe(
        'sus ingest: MQTT 5 shared subscription group ($share/<group>/…) the ingest nodes share the messages in; off subscribes plainly (one node only). A broker without shared subscriptions gets a plain subscription and a warning.',
      ),
    SUS_INGEST_MQTT_SESSION_EXPIRY_S: positiveInt(7 * 24 * 3600).describe(
      "sus ingest: how long the broker keeps the node's session (its queued and unacknowledged messages) while the node is away.",
    ),
    SUS_QUERY_MAX_POINTS: positiveInt(10_000).describe(
      'Query budget: most points, windows × groups or devices × quantities one API request may fetch.',
    ),
    SUS_QUERY_MAX_SCAN: positiveInt(250_000).describe(
      "Stored points one aggregate query may make InfluxDB read: raw readings estimated from the devices' expected intervals, rollups one per window and device; 400 SUS_ERR_QUERY_BUDGET beyond.",
    ),
    SUS_RAW_RETENTION_DAYS: nonNegativeInt(365).describe(
      "Days InfluxDB keeps raw readings (the database's default retention policy; 0: forever); shortened only once the hourly rollups reach past the new limit.",
    ),
    SUS_HOURLY_RETENTION_DAYS: nonNegativeInt(1830).describe(
      'Days InfluxDB keeps hourly rollups (retention policy rollup_1h; 0: forever); the air-quality report of a year needs its hourly rollups. Daily rollups are kept forever.',
    ),
    SUS_ROLLUP_SETTLE_S: positiveInt(120).describe(
      'Seconds after an hour ends before it is rolled up; readings of an hour that arrive later mark it for recomputation.',
    ),
    SUS_ROLLUP_INTERVAL_S: positiveInt(60).describe(
      'How often the rollup service looks for closed and dirty windows (a catch-up runs on until it is done).',
    ),
    SUS_PUBLIC_MQTT_URL: optionalText.describe(
      'MQTT URL(s), comma-separated, written into provisioning bundles; unset, mqtt:// on the host the API was asked under and SUS_MQTT_PORT (plus mqtts:// on SUS_MQTTS_PORT when TLS is on).',
    ),
    SUS_API_RATE_LIMIT: positiveInt(1200).describe(
      'Requests per minute per API key, and per client address for anonymous requests and failed authentications (per process); 429 beyond.',
    ),
    SUS_QUERY_MAX_BYTES: positiveInt(32 * 1024 * 1024).describe(
      'Largest InfluxDB answer in bytes the API reads for one query; a larger one is refused (400 SUS_ERR_QUERY_BUDGET) while it is read.',
    ),
    SUS_PUBLIC_API_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        "The API's public base URL (https://sensors.example.org) for links in answers (SensorThings, the open-data catalogue); unset: the request's scheme and Host.",
      ),
    SUS_STA_MAX_TOP: positiveInt(1000).describe(
      'Most entities one SensorThings page holds ($top beyond it is lowered; @iot.nextLink goes on); the default page is 100.',
    ),
    SUS_OPEN_DATA_PUBLISHER: z
      .string()
      .default('Smart Urban Services')
      .describe('Name of the city or operator that publishes the open-data catalogue (/v1/open/catalog).'),
    SUS_OPEN_DATA_LICENCE: z
      .url()
      .default('http://dcat-ap.de/def/licenses/dl-by-de/2.0')
      .describe(
        "Licence of an open dataset whose grant names none of GovData's licences (http://dcat-ap.de/def/licenses/…; a grant's licence may be dl-by-de/2.0, dl-zero-de/2.0, cc-by/4.0, cc-by-sa/4.0, cc-zero or odbl).",
      ),
    SUS_OPEN_DATA_CONTACT_EMAIL: optionalText
      .pipe(z.email().optional())
      .describe("Contact point's e-mail address of every open dataset; unset: the API's address."),
    SUS_SILENT_FACTOR: positiveInt(3).describe('A device is silent after this many expected intervals without data.'),
    SUS_DEFAULT_INTERVAL_S: positiveInt(300).describe(
      'Expected reporting interval of devices whose type defines none.',
    ),
    SUS_CLAIM_TTL_S: positiveInt(24 * 3600).describe('Default lifetime of a claim code.'),
    SUS_CLAIM_MAX_OPEN: positiveInt(10_000).describe(
      'Unused, unexpired claim codes one department may hold; 409 SUS_ERR_CLAIM_LIMIT beyond (expired ones are deleted).',
    ),
    SUS_STREAM_REPLAY: positiveInt(10_000).describe('Readings kept so a live stream can resume with Last-Event-ID.'),
    SUS_STREAM_MAX_PER_KEY: positiveInt(10).describe(
      'Live streams (/v1/stream) one API key may hold open at once; 429 SUS_ERR_STREAM_LIMIT beyond.',
    ),
    SUS_STREAM_MAX_CONNECTIONS: positiveInt(1000).describe(
      'Live streams this API process holds open at once, all keys together; 429 SUS_ERR_STREAM_LIMIT beyond.',
    ),
    SUS_IMPORT_MAX_ROWS: positiveInt(10_000).describe(
      'Device rows one CSV import (POST /v1/devices/import) may hold; 413 SUS_ERR_IMPORT_TOO_LARGE beyond.',
    ),
    SUS_IMPORT_MAX_ERRORS: positiveInt(100).describe(
      'Row errors a refused CSV import lists in its answer (the error count is always complete).',
    ),
    SUS_CONSOLE_TILE_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        'Map tile URL template of the web console (https://tiles.example.org/{z}/{x}/{y}.png); unset: the map shows devices without tiles (offline).',
      ),
    SUS_CONSOLE_TILE_ATTRIBUTION: z
      .string()
      .max(200)
      .default('')
      .describe("Attribution the console's map shows for its tiles (e.g. '© OpenStreetMap contributors')."),
    SUS_SESSION_TTL_S: positiveInt(8 * 3600).describe(
      'Lifetime of a web console session (sign-in with an API key or OpenID Connect), seconds.',
    ),
    SUS_SESSION_MAX: positiveInt(10_000).describe(
      'Console sessions (and pending OpenID Connect sign-ins) the registry keeps for all API nodes; the oldest ends beyond.',
    ),
    SUS_SESSION_MAX_PER_PERSON: positiveInt(20).describe(
      'Console sessions one person (an API key, an OpenID subject) keeps open; signing in once more ends their oldest.',
    ),
    SUS_OIDC_ISSUER: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        "OpenID Connect issuer of the city's identity provider (Keycloak realm, Entra ID tenant); unset: console sign-in with an API key only.",
      ),
    SUS_OIDC_CLIENT_ID: optionalText.describe('Client id of the console at the identity provider.'),
    SUS_OIDC_CLIENT_SECRET: optionalText.describe(
      'Client secret of the console at the identity provider (confidential client).',
    ),
    SUS_OIDC_REDIRECT_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        "Redirect URL registered at the identity provider: the platform's /v1/session/oidc/callback (https://sensors.example.org/v1/session/oidc/callback).",
      ),
    SUS_OIDC_SCOPES: z
      .string()
      .default('openid profile email')
      .describe('Scopes the console asks the identity provider for.'),
    SUS_OIDC_DEPARTMENT_CLAIM: z
      .string()
      .default('sus_department')
      .describe("ID-token or userinfo claim naming the person's department (an operator needs none)."),
    SUS_OIDC_ROLE_CLAIM: z
      .string()
      .default('sus_role')
      .describe(
        "Claim naming the person's role: viewer, technician, department-admin or operator (a string or a list; the strongest known one counts).",
      ),
    SUS_DEMO_DEVICES: positiveInt(48).describe('Demo fleet size (sus run --demo, sus simulate).'),
    SUS_DEMO_INTERVAL_MS: positiveInt(5000).describe('Reporting interval of the demo fleet.'),
    SUS_API_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        'API that sus device and sus simulate --format ttn|chirpstack talk to; unset, http://127.0.0.1:$SUS_HTTP_PORT.',
      ),
    SUS_API_KEY: optionalText.describe('API key of those CLI commands; unset, SUS_ADMIN_KEY.'),
    SUS_SPOOL_MAX_BYTES: positiveInt(1024 * 1024 * 1024).describe(
      'Bytes the durable spool may hold while InfluxDB is away (1 GiB); at the limit QoS 1 messages get no PUBACK and HTTP pushes a 503.',
    ),
    SUS_DEVICE_CACHE_MAX: positiveInt(100_000).describe(
      "Devices ingest's enrichment cache holds (the least recently loaded are dropped first); unknown ids get a tenth of it.",
    ),
    SUS_SPOOL_SEGMENT_BYTES: positiveInt(16 * 1024 * 1024).describe(
      'size at which the spool starts a new segment file; drained segment files are deleted whole',
    ),
    SUS_SELF_METRICS_INTERVAL_S: positiveInt(10).describe(
      'How often the platform writes its self-metrics (sus_ingest, sus_spool, sus_writes, sus_broker) into InfluxDB.',
    ),
    SUS_MEMORY_REDUCER_S: nonNegativeInt(5).describe(
      'Seconds between checks for memory to give back: after two quiet checks in a row with the heap well above its use (a connect storm or ingest burst), one memory-reducing GC; 0 turns it off. Needs node --expose-gc (bin/sus.mjs passes it).',
    ),
    SUS_MQTT_TCP: z.enum(['on', 'off']).default('on').describe('on/off: the plain MQTT TCP listener on SUS_MQTT_PORT.'),
    SUS_MQTT_WS: z
      .enum(['on', 'off'])
      .default('on')
      .describe('on/off: MQTT over WebSocket at /mqtt on the HTTP port (when the API runs in the same process).'),
    SUS_MQTTS_PORT: port(8883).describe(
      'Port of MQTT over TLS, on when SUS_MQTT_TLS_CERT and SUS_MQTT_TLS_KEY are set.',
    ),
    SUS_MQTT_TLS_CERT: optionalText.describe(
      "PEM file of the broker's certificate chain (turns on MQTT over TLS with SUS_MQTT_TLS_KEY).",
    ),
    SUS_MQTT_TLS_KEY: optionalText.describe("PEM file of the broker's private key."),
    SUS_MQTT_TLS_CA: optionalText.describe(
      'PEM file of the CA of device certificates: turns on mutual TLS (certificate CN = device id).',
    ),
    SUS_MQTT_MAX_CONNECTIONS: positiveInt(50_000).describe(
      'MQTT connections per broker node; beyond it CONNACK 3 (server unavailable).',
    ),
    SUS_MQTT_MAX_CLIENT_ID: positiveInt(128).describe('Longest MQTT client id accepted.'),
    SUS_MQTT_MAX_TOPIC_LEVELS: positiveInt(16).describe('Deepest topic (levels) accepted.'),
    SUS_MQTT_KEEPALIVE_LIMIT_S: positiveInt(3600).describe('Longest keepalive a client may ask for.'),
    SUS_MQTT_DRAIN_TIMEOUT_MS: positiveInt(10_000).describe(
      'A subscriber whose socket does not drain within this time is disconnected.',
    ),
    SUS_MQTT_AUTH_FREE_FAILURES: positiveInt(5).describe(
      'Failed MQTT logins per source address and username answered without delay.',
    ),
    SUS_MQTT_AUTH_MAX_FAILURES: positiveInt(20).describe(
      'Failed MQTT logins per source address and username before that pair is locked out.',
    ),
    SUS_MQTT_AUTH_DELAY_MS: positiveInt(200).describe(
      'First delay after the free failures; doubles with each further failure, at most 10 s.',
    ),
    SUS_MQTT_AUTH_WINDOW_S: positiveInt(900).describe('A failure count is forgotten this long after its last failure.'),
    SUS_MQTT_MAX_SUBSCRIPTIONS: positiveInt(100).describe(
      'topic filters one MQTT connection may hold; one more is refused (SUBACK 0x80) and the connection closed',
    ),
    SUS_MQTT_SESSION_QUEUE_MESSAGES: positiveInt(10_000).describe(
      'messages the broker keeps per persistent MQTT session (clean: false) until its client acknowledges them; newer ones are dropped and counted (single node only)',
    ),
    SUS_MQTT_AUTH_ADDRESS_FREE_FAILURES: positiveInt(20).describe(
      'failed MQTT logins from one source address, all usernames together, answered without delay; each further one doubles the delay of every login from that address (at most this many may wait at once)',
    ),
    SUS_LAST_SEEN_FLUSH_MS: positiveInt(5000).describe(
      "Devices' last-seen times (broker logins and disconnects, ingested readings) are written to the registry in one batch this often.",
    ),
    SUS_RULES_FILE: optionalText.describe(
      "JSON file of alert rules kept as code (the API's full or simple form, each with id and owner); at start they replace the rules an earlier start took from it.",
    ),
    SUS_RULES_MAX_PER_DEPARTMENT: positiveInt(1000).describe(
      'Alert rules one department may keep; 409 SUS_ERR_RULE_LIMIT beyond.',
    ),
    SUS_ALERT_QUEUE_MAX: positiveInt(10_000).describe(
      'Alert state changes waiting to be written to the registry; beyond it further ones are dropped, counted and logged (ingest is never held).',
    ),
    SUS_ALERT_HISTORY_RETENTION_DAYS: nonNegativeInt(365).describe(
      'Days resolved alerts, their history and their webhook deliveries are kept (0: forever).',
    ),
    SUS_WEBHOOK_TIMEOUT_MS: positiveInt(5000).describe('How long one webhook delivery attempt may take.'),
    SUS_WEBHOOK_MAX_ATTEMPTS: positiveInt(10).describe(
      'Attempts of one webhook delivery (exponential backoff with jitter) before it becomes a dead letter that can be re-sent.',
    ),
    SUS_WEBHOOK_BACKOFF_MS: positiveInt(1000).describe(
      'Delay before the first retry of a webhook delivery; it doubles with each attempt (±20 % jitter), at most one hour.',
    ),
    SUS_WEBHOOK_ALLOW_NETWORKS: z
      .string()
      .default('')
      .superRefine((v, ctx) => {
        try {
          parseNetworks(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .describe(
        'Comma-separated addresses or CIDR networks (e.g. 127.0.0.1,10.0.0.0/8) webhooks may reach although they are loopback, private, link-local or metadata addresses; empty: none (checked at connect time, after DNS).',
      ),
    SUS_WINDOW_RULE_INTERVAL_S: positiveInt(60).describe(
      'How often window rules (an aggregate over a trailing window) are evaluated: two InfluxQL statements per rule, hourly rollups plus the readings after their checkpoint.',
    ),
    SUS_SMTP_URL: optionalText
      .pipe(z.url({ protocol: /^smtps?$/ }).optional())
      .describe(
        'SMTP server of alert e-mails (smtp://user:password@host:587 with STARTTLS, smtps://…:465); unset, e-mail notifications fail and end as dead letters.',
      ),
    SUS_SMTP_FROM: z
      .string()
      .min(3)
      .default('SUS alerts <alerts@localhost>')
      .describe('From address of alert e-mails.'),
    SUS_PUBLIC_URL: optionalText
      .pipe(z.url({ protocol: /^https?$/ }).optional())
      .describe(
        'Base URL of the API as people reach it, for the alert links in notifications; unset, http://localhost:$SUS_HTTP_PORT.',
      ),
    REDIS_URL: optionalText
      .pipe(z.url({ protocol: /^rediss?$/ }).optional())
      .describe(
        'Redis URL (redis:// or rediss://): cluster mode: broker nodes share subscriptions, sessions and retained messages; the live stream, rate limits, login throttle, registry changes, downlinks and the elected duties go through it.',
      ),
    SUS_REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'letters, digits and : _ . - (at most 64)')
      .default('sus:')
      .describe('Prefix of the keys and channels SUS keeps in Redis (several platforms on one Redis need their own).'),
    SUS_HEALTH_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        'Port of GET /livez and /readyz for a node without the API (sus broker), for load balancers; unset: none. The API serves both on its own port.',
      ),
    SUS_LEASE_TTL_MS: positiveInt(5000).describe(
      'Cluster mode: the elected duties (rollups, retention, silent-device checks, webhooks, integrations) move to another broker node this long after their node stops renewing its lease.',
    ),
  })
  .superRefine((c, ctx) => {
    // OpenID Connect sign-in is all or nothing: an issuer without its client cannot sign anyone in.
    if (c.SUS_OIDC_ISSUER === undefined) return;
    for (const key of ['SUS_OIDC_CLIENT_ID', 'SUS_OIDC_REDIRECT_URL'] as const)
      if (c[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'required when SUS_OIDC_ISSUER is set' });
  })
  .transform((c) => ({
    ...c,
    // The local stack serves InfluxDB on SUS_INFLUX_PORT; an explicit INFLUX_URL always wins.
    INFLUX_URL: c.INFLUX_URL ?? `http://127.0.0.1:${c.SUS_INFLUX_PORT}`,
  }));

export type Config = z.output<typeof ConfigSchema>;

// Settings whose values are secrets: a problem names them and their length, never their value.
const SECRET_SETTING = /KEY|TOKEN|PASSWORD|SECRET/;

/** How a problem shows the value it refused: secrets by length only, URLs without the password of their user info. */
function shown(key: string, value: string | undefined): string {
  if (value === undefined) return 'null';
  if (SECRET_SETTING.test(key)) return `a value of ${value.length} characters`;
  return JSON.stringify(redactUrl(value));
}

/** A URL as logs and problems may show it: the user info's password (or a lone token) replaced by `***`. */
export function redactUrl(value: string): string {
  // Greedy to the last '@': a password holding '@' (unescaped, the likely reason the URL was refused) stays hidden.
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i, (_m, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userInfo.slice(0, colon)}:***` : '***'}@`;
  });
}

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
    return `${key}: ${issue.message} (got ${shown(key, env[key])})`;
  });
  throw new ConfigError(problems);
}
