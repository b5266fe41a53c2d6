import type { Redis } from 'ioredis';
import type { Catalogue } from '../common/catalogue.ts';
import type { ReadingEmitter } from '../common/cluster/live-feed.ts';
import type { Config } from '../common/config.ts';
import type { InfluxQuery } from '../common/influx.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import type { AlertNotice } from '../common/rules.ts';
import type { Command, DesiredConfig, Registry } from '../registry/index.ts';
import type { IngestPort } from './routes/ingest-http.ts';

/**
 * Where live readings come from: the in-process Ingestor emits `readings` for every accepted message; in a cluster
 * the Redis feed (services/common/cluster/live-feed.ts) does, with ids shared by every API node.
 */
export type LiveSource = ReadingEmitter;

/** Alert state changes from the in-process evaluator, and its notifier (to send re-queued deliveries at once). */
export interface AlertFeed {
  on(event: 'alert', listener: (notice: AlertNotice) => void): unknown;
  off(event: 'alert', listener: (notice: AlertNotice) => void): unknown;
  /** A dead delivery was queued again: send it now rather than at the next poll. */
  deliveriesQueued(): void;
}

/** The broker's downlink path (SusBroker implements it). */
export interface DownlinkSender {
  publishCommand(c: Command): Promise<void>;
  publishConfig(c: DesiredConfig): Promise<void>;
}

/** What the routes need; handed in by whoever composes the process (sus run, sus api, tests). */
export interface ApiContext {
  registry: Registry;
  influx: InfluxQuery;
  catalogue: Catalogue;
  /** Prometheus registry every layer of this process registers its metrics in; served on /metrics. */
  metrics: MetricsRegistry;
  config: Pick<
    Config,
    | 'SUS_QUERY_MAX_POINTS'
    | 'SUS_QUERY_MAX_SCAN'
    | 'SUS_MQTT_PORT'
    | 'SUS_HTTP_HOST'
    | 'SUS_PUBLIC_MQTT_URL'
    | 'SUS_API_RATE_LIMIT'
    | 'SUS_SILENT_FACTOR'
    | 'SUS_DEFAULT_INTERVAL_S'
    | 'SUS_CLAIM_TTL_S'
    | 'SUS_CLAIM_MAX_OPEN'
    | 'SUS_STREAM_REPLAY'
    | 'SUS_STREAM_MAX_PER_KEY'
    | 'SUS_STREAM_MAX_CONNECTIONS'
    | 'SUS_IMPORT_MAX_ROWS'
    | 'SUS_IMPORT_MAX_ERRORS'
    | 'SUS_MAX_PAYLOAD_BYTES'
    | 'SUS_STA_MAX_TOP'
    | 'SUS_OPEN_DATA_PUBLISHER'
    | 'SUS_OPEN_DATA_LICENCE'
    | 'SUS_CONSOLE_TILE_ATTRIBUTION'
    | 'SUS_SESSION_TTL_S'
    | 'SUS_SESSION_MAX'
    | 'SUS_OIDC_SCOPES'
    | 'SUS_OIDC_ROLE_CLAIM'
    | 'SUS_OIDC_DEPARTMENT_CLAIM'
  > &
    Partial<
      Pick<
        Config,
        | 'SUS_MQTT_TLS_CERT'
        | 'SUS_MQTT_TLS_CA'
        | 'SUS_MQTTS_PORT'
        | 'SUS_PUBLIC_API_URL'
        | 'SUS_OPEN_DATA_CONTACT_EMAIL'
        | 'SUS_CONSOLE_TILE_URL'
        | 'SUS_OIDC_ISSUER'
        | 'SUS_OIDC_CLIENT_ID'
        | 'SUS_OIDC_CLIENT_SECRET'
        | 'SUS_OIDC_REDIRECT_URL'
        | 'SUS_WEBHOOK_ALLOW_NETWORKS'
      >
    >;
  /** Live readings for the SSE stream; absent when the API runs without in-process ingest (`sus api`). */
  live?: LiveSource;
  /** Cluster mode: the rate limit's counts in this Redis (under `prefix`), shared by every API node. */
  sharedLimits?: { redis: Redis; prefix: string };
  /** Whether this node should get new requests (/readyz): false while it drains. Unset: always. */
  ready?: () => Promise<boolean>;
  /** The live source is the cluster's feed: its reading ids are the same on every API node. */
  liveIdsShared?: boolean;
  /** Publishes downlinks through the in-process broker; absent in `sus api` alone (commands answer 503 then). */
  downlink?: DownlinkSender;
  /** The in-process alert evaluator (stream `event: alert`, re-sent deliveries); absent in `sus api` alone. */
  alerts?: AlertFeed;
  /** The in-process ingest pipeline (HTTP push, dead-letter replay); absent in `sus api` alone (they answer 503). */
  ingest?: IngestPort;
}
