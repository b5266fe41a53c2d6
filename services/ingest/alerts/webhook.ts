import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../common/logger.ts';
import type { OutboundPolicy } from '../../common/outbound-address.ts';
import type { AlertGroupNotice, AlertNotice } from '../../common/rules.ts';
import type { AlertStore, OutgoingDelivery } from '../../registry/index.ts';
import type { EmailSender } from './email.ts';

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

/**
 * The deliveries sent as one message from `list[i]` on: those of the same rule and state made due at the same time
 * with the same attempts (a group wait's members; see AlertStore.groupTime), within one receiver's list.
 */
function groupAt(list: readonly OutgoingDelivery[], i: number): OutgoingDelivery[] {
  const first = list[i]!;
  const group = [first];
  // A first attempt made due at its creation is no group member (no group wait): it goes alone.
  if (first.attempts === 0 && first.nextAttemptAt === first.createdAt) return group;
  const { rule, state } = JSON.parse(first.body) as Pick<AlertNotice, 'rule' | 'state'>;
  for (let j = i + 1; j < list.length; j++) {
    const d = list[j]!;
    if (d.nextAttemptAt !== first.nextAttemptAt || d.attempts !== first.attempts || d.secret !== first.secret) break;
    const n = JSON.parse(d.body) as Pick<AlertNotice, 'rule' | 'state'>;
    if (n.rule.id !== rule.id || n.state !== state) break;
    group.push(d);
  }
  return group;
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
  /** Receivers with due deliveries that a pass skipped because they were busy (bounded by the receivers). */
  private readonly skipped = new Set<string>();
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
    /** Which addresses a webhook may reach (SUS_WEBHOOK_ALLOW_NETWORKS): checked when each socket connects. */
    private readonly policy: OutboundPolicy,
    private readonly email: EmailSender,
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
    this.email.close();
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
    // A full page may hide more due deliveries: each receiver's worker looks again once it is done.
    const full = due.length >= BATCH;
    const byUrl = new Map<string, OutgoingDelivery[]>();
    for (const d of due) {
      if (this.busy.has(d.url)) {
        this.skipped.add(d.url);
        continue;
      }
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
          // Deliveries made while this receiver was busy were skipped by the passes meanwhile: look again for those
          // only (one registry read less per notification when nothing was skipped).
          const skipped = this.skipped.delete(url);
          if (finished && (skipped || full)) this.nudge();
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
    for (let i = 0; i < list.length; ) {
      if (this.stopped) return false;
      const d = list[i]!;
      const wait = Date.parse(d.nextAttemptAt) - Date.now();
      if (wait > 0) {
        this.wake(wait);
        return false;
      }
      const group = groupAt(list, i);
      i += group.length;
      const error = await this.send(group);
      if (this.stopped) return false;
      const attempts = d.attempts + 1;
      if (error === undefined) {
        this.stats.delivered += group.length;
        for (const g of group) await this.store.delivered(g.id, attempts);
        continue;
      }
      this.stats.failedAttempts++;
      if (attempts >= this.options.maxAttempts) {
        this.stats.dead += group.length;
        this.log.warn({ delivery: d.id, url: d.url, error }, 'notification undeliverable; kept as a dead letter');
        for (const g of group) await this.store.failed(g.id, attempts, error, null);
        continue;
      }
      // A group's members keep one retry time, so they stay one group.
      const next = new Date(Date.now() + backoff(attempts, this.options.backoffMs));
      for (const g of group) await this.store.failed(g.id, attempts, error, next);
      this.wake(next.getTime() - Date.now());
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

  /** One attempt; undefined when the receiver took it, else what went wrong. */
  private send(group: OutgoingDelivery[]): Promise<string | undefined> {
    const d = group[0]!;
    const key = group.length === 1 ? d.idempotencyKey : `group-${d.idempotencyKey}-${group.length}`;
    if (d.url.startsWith('mailto:'))
      return this.email.send(
        d.url,
        group.map((g) => JSON.parse(g.body) as AlertNotice),
        key,
      );
    if (group.length === 1) return this.post(d);
    const alerts = group.map((g) => JSON.parse(g.body) as AlertNotice);
    const body: AlertGroupNotice = {
      group: { rule: alerts[0]!.rule, state: alerts[0]!.state, count: alerts.length },
      alerts,
    };
    return this.post({ ...d, idempotencyKey: key, body: JSON.stringify(body) });
  }

  /** One webhook attempt; undefined when the receiver answered 2xx. */
  private post(d: OutgoingDelivery): Promise<string | undefined> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    let url: URL;
    try {
      url = new URL(d.url);
    } catch {
      return Promise.resolve(`not a URL: ${d.url}`);
    }
    const refusal = this.policy.refusalOf(url);
    if (refusal) return Promise.resolve(`SUS_ERR_WEBHOOK_ADDRESS: ${refusal}`);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    // node:http rather than fetch: its `lookup` option lets the policy check the address the socket connects to.
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(d.body),
            'user-agent': 'sus-alerts/1',
            'sus-timestamp': timestamp,
            'sus-signature': signature(d.secret, timestamp, d.body),
            'idempotency-key': d.idempotencyKey,
          },
          lookup: this.policy.lookup,
          agent: false,
          signal: AbortSignal.any([this.abort.signal, timeout]),
        },
        (res) => {
          // The answer's body is not needed; it is read and dropped so the socket closes cleanly.
          res.resume();
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? undefined : `HTTP ${status}`);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (timeout.aborted) return resolve(`no answer within ${this.options.timeoutMs} ms`);
        resolve(err.code === 'SUS_ERR_WEBHOOK_ADDRESS' ? `${err.code}: ${err.message}` : (err.code ?? err.message));
      });
      req.end(d.body);
    });
  }
}
