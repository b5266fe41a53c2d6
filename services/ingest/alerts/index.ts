import { catalogue } from '../../common/catalogue.ts';
import type { Config } from '../../common/config.ts';
import type { InfluxSeries } from '../../common/influx.ts';
import type { LineSink } from '../../common/line-protocol.ts';
import type { Logger } from '../../common/logger.ts';
import { OutboundPolicy } from '../../common/outbound-address.ts';
import type { Registry } from '../../registry/index.ts';
import { EmailSender } from './email.ts';
import { AlertEngine, type ReadingSource } from './engine.ts';
import { loadRulesFile } from './rules-file.ts';
import { WebhookNotifier } from './webhook.ts';

export { AlertEngine, type AlertEngineOptions, type ReadingSource } from './engine.ts';
export { backoff, signature, WebhookNotifier } from './webhook.ts';

/** `created_by` of the rules taken from SUS_RULES_FILE. */
export const RULES_FILE_SOURCE = 'SUS_RULES_FILE';

export interface Alerting {
  engine: AlertEngine;
  notifier: WebhookNotifier;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Rules evaluated on ingest's readings, alerts into the registry, webhooks out: wired from the settings. */
export function createAlerting(
  config: Pick<
    Config,
    | 'SUS_ALERT_QUEUE_MAX'
    | 'SUS_SILENT_FACTOR'
    | 'SUS_DEFAULT_INTERVAL_S'
    | 'SUS_PUBLIC_URL'
    | 'SUS_HTTP_PORT'
    | 'SUS_WEBHOOK_TIMEOUT_MS'
    | 'SUS_WEBHOOK_MAX_ATTEMPTS'
    | 'SUS_WEBHOOK_BACKOFF_MS'
    | 'SUS_WEBHOOK_ALLOW_NETWORKS'
    | 'SUS_SMTP_FROM'
  > &
    Partial<Pick<Config, 'SUS_RULES_FILE' | 'SUS_SMTP_URL' | 'SUS_WINDOW_RULE_INTERVAL_S'>>,
  registry: Registry,
  source: ReadingSource,
  sink: LineSink,
  log: Logger,
  /** Where window rules read rollups and readings; without it they are not evaluated. */
  influx?: { query(q: string): Promise<InfluxSeries[][]> },
  /**
   * Cluster mode: silent-device checks and webhook deliveries are elected duties (`leading` says whether this node
   * holds them; the caller starts and stops `notifier` with the lease), so each notification goes out once.
   */
  cluster?: { leading: () => boolean; lastSeenMs: number },
): Alerting {
  const notifier = new WebhookNotifier(
    registry.alerts,
    log.child({ component: 'webhooks' }),
    {
      timeoutMs: config.SUS_WEBHOOK_TIMEOUT_MS,
      maxAttempts: config.SUS_WEBHOOK_MAX_ATTEMPTS,
      backoffMs: config.SUS_WEBHOOK_BACKOFF_MS,
    },
    new OutboundPolicy(config.SUS_WEBHOOK_ALLOW_NETWORKS),
    new EmailSender({ url: config.SUS_SMTP_URL, from: config.SUS_SMTP_FROM, timeoutMs: config.SUS_WEBHOOK_TIMEOUT_MS }),
  );
  const engine = new AlertEngine({
    registry,
    source,
    sink,
    notifier,
    ...(influx ? { influx } : {}),
    log: log.child({ component: 'alerts' }),
    options: {
      queueMax: config.SUS_ALERT_QUEUE_MAX,
      silentFactor: config.SUS_SILENT_FACTOR,
      defaultIntervalS: config.SUS_DEFAULT_INTERVAL_S,
      windowMs: (config.SUS_WINDOW_RULE_INTERVAL_S ?? 60) * 1000,
      publicUrl: (config.SUS_PUBLIC_URL ?? `http://localhost:${config.SUS_HTTP_PORT}`).replace(/\/$/, ''),
      ...(cluster && { leading: cluster.leading, sharedLastSeenMs: cluster.lastSeenMs }),
    },
  });
  return {
    engine,
    notifier,
    async start() {
      if (config.SUS_RULES_FILE) {
        const rules = loadRulesFile(config.SUS_RULES_FILE, catalogue);
        const synced = await registry.rules.sync(rules, RULES_FILE_SOURCE);
        log.info({ file: config.SUS_RULES_FILE, ...synced }, 'alert rules taken from SUS_RULES_FILE');
      }
      await engine.start();
      if (!cluster) notifier.start();
    },
    async stop() {
      await engine.stop();
      if (!cluster) await notifier.stop();
    },
  };
}
