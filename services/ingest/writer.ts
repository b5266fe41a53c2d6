import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { SusError } from '../common/errors.ts';
import { type InfluxConfig, influxAuthorization } from '../common/influx.ts';
import type { Logger } from '../common/logger.ts';
import type { NewDeadLetter } from '../registry/index.ts';
import { isRefusal, refusedLineDeadLetter, splitRefused } from './refused-lines.ts';
import type { Spool, SpoolBatch } from './spool/spool.ts';

/** Where normalised points go. `write` resolves once the lines are safe (durably spooled in production). */
export interface PointWriter {
  write(lines: string[]): Promise<void> | void;
  flush(): Promise<void>;
}

/** Sends one batch of line protocol; throws SUS_ERR_INFLUX_REJECTED for lines InfluxDB will never take. */
export interface LineSender {
  send(body: Buffer): Promise<void>;
  /** Releases connections kept for reuse. */
  close?(): void;
}

const REFUSED_STATUSES = new Set([400, 413, 422]);

/** InfluxDB's own words from an error answer: `error` (1.x), `message` (2.x, 3.x), else the start of the text. */
export function influxReason(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) {
      const { error, message } = body as { error?: unknown; message?: unknown };
      if (typeof error === 'string') return error.slice(0, 500);
      if (typeof message === 'string') return message.slice(0, 500);
    }
  } catch {
    // not JSON: the text as it is
  }
  return text.slice(0, 500) || '(no reason given)';
}

/**
 * Plain HTTP POST to InfluxDB's write endpoint: `/api/v2/write` (1.8+, 2.x, 3.x) or `/write` (INFLUX_API=v1).
 * No client-side buffer or retry here on purpose: the spool is the buffer, and a batch counts as written only when
 * InfluxDB answered 2xx. node:http rather than fetch: posting a ready Buffer costs a fraction of fetch's
 * web-stream machinery, and this runs on the same thread as the message path.
 */
export class InfluxLineSender implements LineSender {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly request: typeof http.request;
  // Keep-alive: one connection reused for every batch (idle sockets are unref'd and do not hold the process).
  private readonly agent: http.Agent;

  /**
   * `policy`: a retention policy of the database other than its default (the rollups' own); on the v2 API the
   * bucket `<db>/<policy>`, which InfluxDB 1.8 maps to that policy and 2.x/3.x read as a bucket name.
   */
  constructor(
    private readonly c: InfluxConfig,
    policy?: string,
  ) {
    const base = c.INFLUX_URL.replace(/\/$/, '');
    this.headers = { 'Content-Type': 'text/plain; charset=utf-8' };
    const auth = influxAuthorization(c);
    if (auth) this.headers.Authorization = auth;
    const v1 = new URLSearchParams({ db: c.INFLUX_DB, precision: 'ms' });
    if (policy) v1.set('rp', policy);
    const bucket = policy ? `${c.INFLUX_DB}/${policy}` : c.INFLUX_DB;
    this.url =
      c.INFLUX_API === 'v1'
        ? new URL(`${base}/write?${v1.toString()}`)
        : new URL(
            `${base}/api/v2/write?${new URLSearchParams({ org: c.INFLUX_ORG, bucket, precision: 'ms' }).toString()}`,
          );
    const tls = this.url.protocol === 'https:';
    this.request = tls ? https.request : http.request;
    this.agent = tls ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  async send(body: Buffer): Promise<void> {
    let res: { status: number; text: string };
    try {
      res = await this.post(body);
    } catch (err) {
      throw new SusError(
        'SUS_ERR_INFLUX_UNAVAILABLE',
        `InfluxDB at ${this.c.INFLUX_URL} is unreachable: ${(err as Error).message}`,
        503,
      );
    }
    if (res.status >= 200 && res.status < 300) return;
    // 400/413/422: the lines themselves are refused (parse error, type conflict, beyond retention, too large); a
    // retry of the same bytes would fail forever, so the drainer splits the batch (see refused-lines.ts).
    const refused = REFUSED_STATUSES.has(res.status);
    const reason = influxReason(res.text);
    throw new SusError(
      refused ? 'SUS_ERR_INFLUX_REJECTED' : 'SUS_ERR_INFLUX_WRITE',
      `InfluxDB write failed (${res.status}): ${reason}`,
      502,
      { status: res.status, reason },
    );
  }

  close(): void {
    this.agent.destroy();
  }

  /** One POST; resolves with the status and (for errors) the start of the answer. */
  private post(body: Buffer): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'Content-Length': body.length },
          timeout: this.c.INFLUX_TIMEOUT_MS,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (status >= 300 && text.length < 4096) text += chunk;
          });
          res.on('end', () => resolve({ status, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.c.INFLUX_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** Batches posted to InfluxDB at once; commits stay in order. Two keep InfluxDB busy while the next is read. */
const WRITES_IN_FLIGHT = 2;

export interface DrainOptions {
  /** Lines per InfluxDB write (SUS_WRITE_BATCH_SIZE). */
  batchSize: number;
  /** How long a part batch may wait for more lines (SUS_WRITE_FLUSH_MS). */
  lingerMs: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long flush()/stop() wait for InfluxDB before leaving the rest in the spool for the next start. */
  graceMs?: number;
}

export interface WriterStats {
  /** Lines InfluxDB acknowledged. */
  written: number;
  batches: number;
  /** Failed write attempts (each is retried). */
  failures: number;
  /** Lines InfluxDB refused on their own, each filed as a dead letter with InfluxDB's reason. */
  refused: number;
}

/** Where the drainer files the lines InfluxDB refuses (the dead-letter store). */
export interface RefusedLineStore {
  addDeadLetter(d: NewDeadLetter & { format?: string }): Promise<number>;
}

/**
 * The writer of the pipeline: `write()` appends to the durable spool; a single drain loop takes batches from the
 * spool in order, posts them, and commits the spool only after InfluxDB acknowledged. While InfluxDB is down the
 * batch is retried with backoff and the spool grows; nothing is dropped on overflow or shutdown.
 */
export class SpoolDrainer implements PointWriter {
  readonly stats: WriterStats = { written: 0, batches: 0, failures: 0, refused: 0 };
  /** Called with the latency (ms) and size of every acknowledged write. */
  onWrite: ((ms: number, lines: number) => void) | undefined;
  /**
   * Awaited for every batch InfluxDB took, before the spool commits it: what it records (the rollups' dirty
   * windows) is recorded again after a crash, when the uncommitted batch is written once more.
   */
  onDelivered: ((batch: SpoolBatch) => Promise<void>) | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private linger: NodeJS.Timeout | undefined;
  private urgent = false;
  private abort = new AbortController();
  private failing = false;

  constructor(
    private readonly spool: Spool,
    private readonly sender: LineSender,
    private readonly options: DrainOptions,
    private readonly log: Logger,
    private readonly deadLetters: RefusedLineStore,
  ) {}

  start(): void {
    this.running = true;
    this.abort = new AbortController();
    this.spool.onDurable = () => this.kick();
    this.kick();
  }

  write(lines: string[]): Promise<void> {
    return this.spool.append(lines);
  }

  /** Waits until the spool is empty (everything is in InfluxDB) or the grace time passed. */
  async flush(): Promise<void> {
    const until = Date.now() + (this.options.graceMs ?? 5000);
    while (this.running && this.spool.depth > 0 && Date.now() < until) {
      this.urgent = true;
      this.kick();
      await sleep(20);
    }
    this.urgent = false;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    await this.flush();
    this.running = false;
    this.abort.abort();
    clearTimeout(this.linger);
    this.spool.onDurable = undefined;
    await this.loop;
    this.sender.close?.();
    if (this.spool.depth > 0) {
      this.log.warn({ lines: this.spool.depth }, 'InfluxDB did not take everything; the rest waits in the spool');
    }
  }

  private kick(): void {
    if (!this.running || this.loop) return;
    const unread = this.spool.unreadLines;
    if (unread === 0) return;
    if (unread >= this.options.batchSize || this.urgent) {
      clearTimeout(this.linger);
      this.linger = undefined;
      this.loop = this.drain().finally(() => {
        this.loop = undefined;
        this.kick();
      });
      return;
    }
    this.linger ??= setTimeout(() => {
      this.linger = undefined;
      this.urgent = true;
      this.kick();
      this.urgent = false;
    }, this.options.lingerMs);
  }

  private async drain(): Promise<void> {
    const inFlight: Array<{ batch: SpoolBatch; delivered: Promise<boolean> }> = [];
    try {
      while (this.running) {
        // Reading and posting the next batch while InfluxDB works on the previous one hides the spool read, the
        // commit and the HTTP round trip (which, on a busy event loop, cost as much as InfluxDB's own work).
        while (inFlight.length < WRITES_IN_FLIGHT) {
          if (inFlight.length > 0 && this.spool.unreadLines < this.options.batchSize && !this.urgent) break;
          const batch = await this.spool.read(this.options.batchSize);
          if (!batch) break;
          inFlight.push({ batch, delivered: this.deliver(batch) });
        }
        const head = inFlight.shift();
        if (!head) return;
        if (!(await head.delivered)) return; // stopping: the batches stay in the spool
        await this.onDelivered?.(head.batch);
        // In append order: committing a batch's end covers everything before it.
        await this.spool.commit(head.batch);
        if (inFlight.length > 0) continue;
        const unread = this.spool.unreadLines;
        // A full batch means a backlog: what came in meanwhile goes right away instead of waiting out the linger.
        const backlog = head.batch.lines >= this.options.batchSize && unread > 0;
        if (unread < this.options.batchSize && !this.urgent && !backlog) return;
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'spool drain failed; retrying');
      // Batches still being posted must end before a later commit could cover them; then everything read and not
      // committed is read again (written twice at worst: InfluxDB overwrites identical points), never skipped.
      await Promise.all(inFlight.map((f) => f.delivered));
      this.spool.rewind();
      await sleep(this.options.retryMaxMs ?? 5000, undefined, { signal: this.abort.signal }).catch(() => {});
    }
  }

  /**
   * Posts until InfluxDB acknowledges (true) or the writer stops (false). A batch InfluxDB refuses is split until
   * every line is written or refused alone, and the refused lines are dead-lettered before the batch counts as
   * delivered: no line leaves the spool without being in InfluxDB or in the dead letters.
   */
  private async deliver(batch: SpoolBatch): Promise<boolean> {
    let delay = this.options.retryMinMs ?? 100;
    // Refused lines already filed by an earlier attempt at this batch: a retry must not file them twice.
    const filed = new Set<number>();
    for (;;) {
      const started = performance.now();
      try {
        let written = batch.lines;
        try {
          await this.sender.send(batch.body);
        } catch (err) {
          if (!isRefusal(err)) throw err;
          written = await this.settleRefused(batch, err, filed);
        }
        this.onWrite?.(performance.now() - started, written);
        this.stats.written += written;
        this.stats.batches++;
        if (this.failing) {
          this.failing = false;
          this.log.info({ depth: this.spool.depth }, 'InfluxDB takes writes again; draining the spool');
        }
        return true;
      } catch (err) {
        this.stats.failures++;
        if (!this.failing) {
          this.failing = true;
          this.log.warn(
            { err: (err as Error).message, depth: this.spool.depth },
            'InfluxDB write failed; readings wait in the spool and are retried',
          );
        }
      }
      if (!this.running) return false;
      try {
        await sleep(delay, undefined, { signal: this.abort.signal });
      } catch {
        return false;
      }
      delay = Math.min(delay * 2, this.options.retryMaxMs ?? 5000);
    }
  }

  /** Splits a refused batch, files the lines refused alone as dead letters; returns the lines written. */
  private async settleRefused(batch: SpoolBatch, refusal: SusError, filed: Set<number>): Promise<number> {
    const lines = batch.body
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    const outcome = await splitRefused(lines, refusal, (body) => this.sender.send(body));
    const at = new Date();
    for (const r of outcome.refused) {
      if (filed.has(r.index)) continue;
      // Throws while the dead-letter store is down: the batch stays in the spool and is retried.
      const id = await this.deadLetters.addDeadLetter(refusedLineDeadLetter(r, at));
      filed.add(r.index);
      this.stats.refused++;
      this.log.error(
        { deadLetterId: id, status: r.status, reason: r.reason, line: r.line.slice(0, 300) },
        'InfluxDB refused a line; it is in the dead letters',
      );
    }
    return outcome.written;
  }
}
