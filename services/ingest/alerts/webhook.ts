import { createHmac } from 'node:crypto';
import type { Logger } from '../../common/logger.ts';
import type { AlertStore, OutgoingDelivery } from '../../registry/index.ts';

export interface WebhookOptions {
  /** One attempt's time limit (SUS_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Attempts before a delivery becomes a dead letter (SUS_WEBHOOK_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First retry delay; doubles per attempt, ±20 % jitter, at most an hour (SUS_WEBHOOK_BACKOFF_MS). */
  backoffMs: number;
  /** How often the registry is asked for due deliveries without a nudge (other processes' resends, restarts). */
  pollMs?: number;
}

const MAX_BACKOFF_MS = 3600_000;
const BATCH = 500;

/**
 * `SUS-Signature: sha256=<hex>` over `<SUS-Timestamp>.<body>` with the rule's webhook secret: a receiver recomputes
 * it, compares in constant time and refuses old timestamps (services/api/README.md, "Alert webhooks").
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The delay before attempt `attempts + 1`: exponential, with jitter so many failed receivers do not retry in step. */
export function backoff(attempts: number, baseMs: number, random = Math.random): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * Sends the registry's pending webhook deliveries: each receiver (URL) in the order its deliveries were made, one
 * at a time, so a firing never arrives after its resolution; receivers apart, so a slow or failing one holds up
 * only itself. A failed attempt is retried with backoff; after the last one the delivery is a dead letter, kept
 * with its error, that the API can queue again. Nothing here runs on ingest's path: the engine only nudges.
 */
export class WebhookNotifier {
  private readonly busy = new Set<string>();
  private readonly workers = new Set<Promise<void>>();
  private passing: Promise<void> | undefined;
  private again = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  // Renewed at each start: in a cluster the notifier stops and starts again as the lease moves.
  private abort = new AbortController();
  private stopped = true;
  readonly stats = { delivered: 0, failedAttempts: 0, dead: 0 };

  constructor(
    private readonly store: Pick<AlertStore, 'due' | 'delivered' | 'failed'>,
    private readonly log: Logger,
    private readonly options: WebhookOptions,
  ) {}

  start(): void {
    this.stopped = false;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.pollTimer = setInterval(() => this.nudge(), this.options.pollMs ?? 5000);
    this.pollTimer.unref();
    this.nudge();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.wakeTimer);
    this.abort.abort();
    await this.passing;
    await Promise.all(this.workers);
  }

  /** New deliveries may be due: look now (coalesced with a pass already running). */
  nudge(): void {
    if (this.stopped) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = this.pass()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not read the due webhook deliveries'))
      .finally(() => {
        this.passing = undefined;
        if (this.again) {
          this.again = false;
          this.nudge();
        }
      });
  }

  private async pass(): Promise<void> {
    const due = await this.store.due(BATCH);
    const byUrl = new Map<string, OutgoingDelivery[]>();
    for (const d of due) {
      if (this.busy.has(d.url)) continue;
      let list = byUrl.get(d.url);
      if (!list) {
        list = [];
        byUrl.set(d.url, list);
      }
      list.push(d);
    }
    for (const [url, list] of byUrl) {
      this.busy.add(url);
      const worker = this.work(list).then(
        (finished) => {
          this.busy.delete(url);
          this.workers.delete(worker);
          // Deliveries made while this receiver was busy were skipped by the passes meanwhile.
          if (finished) this.nudge();
        },
        (err: Error) => {
          this.busy.delete(url);
          this.workers.delete(worker);
          this.log.warn({ err: err.message, url }, 'webhook delivery state not written; retried at the next poll');
        },
      );
      this.workers.add(worker);
    }
  }

  /**
   * One receiver's due deliveries in order; stops at the first that must wait for a retry (false) or once all are
   * done (true).
   */
  private async work(list: OutgoingDelivery[]): Promise<boolean> {
    for (const d of list) {
      if (this.stopped) return false;
      const wait = Date.parse(d.nextAttemptAt) - Date.now();
      if (wait > 0) {
        this.wake(wait);
        return false;
      }
      const error = await this.send(d);
      if (this.stopped) return false;
      const attempts = d.attempts + 1;
      if (error === undefined) {
        this.stats.delivered++;
        await this.store.delivered(d.id, attempts);
        continue;
      }
      this.stats.failedAttempts++;
      if (attempts >= this.options.maxAttempts) {
        this.stats.dead++;
        this.log.warn({ delivery: d.id, url: d.url, error }, 'webhook undeliverable; kept as a dead letter');
        await this.store.failed(d.id, attempts, error, null);
        continue;
      }
      const delay = backoff(attempts, this.options.backoffMs);
      await this.store.failed(d.id, attempts, error, new Date(Date.now() + delay));
      this.wake(delay);
      return false;
    }
    return true;
  }

  private wake(inMs: number): void {
    const at = Date.now() + inMs;
    if (at >= this.wakeAt || this.stopped) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.nudge();
    }, inMs);
    this.wakeTimer.unref();
  }

  /** One attempt; undefined when the receiver answered 2xx, else what went wrong. */
  private async send(d: OutgoingDelivery): Promise<string | undefined> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'sus-alerts/1',
          'sus-timestamp': timestamp,
          'sus-signature': signature(d.secret, timestamp, d.body),
          'idempotency-key': d.idempotencyKey,
        },
        body: d.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
      // The answer's body is not needed; cancelling it frees the connection.
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.message);
    }
  }
}
