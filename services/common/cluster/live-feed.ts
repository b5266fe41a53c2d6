import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { Reading, ReadingTags } from '../reading.ts';
import type { Service } from '../service.ts';
import { closeRedis, type RedisPlace, redisConnection, subscriberConnection } from './redis.ts';

/** What emits accepted readings (the Ingestor) and what the API's live hub listens to. */
export interface ReadingEmitter {
  on(event: 'readings', listener: (readings: Reading[], tags: ReadingTags, firstId?: number) => void): unknown;
  off(event: 'readings', listener: (readings: Reading[], tags: ReadingTags, firstId?: number) => void): unknown;
}

// One id per reading across the cluster, taken with the entry in one step: every API node numbers the stream alike,
// so a client resumes with Last-Event-ID on any of them. The entry's id is the id of its last reading.
const APPEND = `
local last = redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], last .. '-0', 'd', ARGV[3])
return last`;

const keys = (place: RedisPlace) => [`${place.prefix}live`, `${place.prefix}live:seq`];

const Batch = z.array(
  z.tuple([
    z.object({
      device: z.string(),
      department: z.string(),
      district: z.string(),
      device_type: z.string(),
      source: z.string(),
    }),
    z.array(
      z.object({
        device: z.string(),
        quantity: z.string(),
        value: z.number(),
        unit: z.string(),
        time: z.number(),
        // SensorThings readers show them as resultQuality, on every node alike.
        flags: z.array(z.string()).optional(),
      }),
    ),
  ]),
);

export interface LiveFeedOptions {
  /** Readings kept in the Redis stream (approximately): how far back a client can resume (SUS_STREAM_REPLAY). */
  maxLen: number;
  /** Readings waiting for Redis; beyond it newer ones are not streamed (they are stored all the same). */
  maxPending?: number;
}

/**
 * A broker node's side of the cluster's live stream: ingest's accepted readings go to a Redis stream that every
 * API node reads. The hand-over from ingest is a push onto an array (ingest calls in on its way to the PUBACK); the
 * batch goes to Redis in a later turn, one entry per turn, one at a time.
 */
export class LiveFeedPublisher implements Service {
  private conn: Redis | undefined;
  private pending: Array<[ReadingTags, Reading[]]> = [];
  private pendingReadings = 0;
  private scheduled = false;
  private sending: Promise<void> = Promise.resolve();
  /** Readings not streamed because Redis fell behind or was away. */
  dropped = 0;
  private readonly onReadings = (readings: Reading[], tags: ReadingTags) => {
    if (this.pendingReadings >= (this.options.maxPending ?? 10_000)) {
      this.dropped += readings.length;
      return;
    }
    this.pending.push([tags, readings]);
    this.pendingReadings += readings.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };
  private readonly flush = () => {
    this.sending = this.sending.then(() => this.send());
  };

  constructor(
    private readonly source: ReadingEmitter,
    private readonly place: RedisPlace,
    private readonly options: LiveFeedOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.conn = redisConnection(this.place.url);
    this.conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'live feed: Redis error'));
    this.source.on('readings', this.onReadings);
  }

  async stop(): Promise<void> {
    this.source.off('readings', this.onReadings);
    await this.sending;
    if (this.pending.length > 0) await this.send();
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await closeRedis(conn);
  }

  private async send(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    const n = this.pendingReadings;
    this.pending = [];
    this.pendingReadings = 0;
    const conn = this.conn;
    if (!conn || n === 0) return;
    try {
      await conn.eval(APPEND, 2, ...keys(this.place), String(n), String(this.options.maxLen), JSON.stringify(batch));
    } catch (err) {
      this.dropped += n;
      this.log.warn({ err: (err as Error).message, readings: n }, 'live feed: readings not streamed (Redis)');
    }
  }
}

/**
 * An API node's side: reads the Redis stream and emits `readings` with the cluster-wide id of the first one, as the
 * in-process Ingestor would. At start it reads back the stream's tail, so a client resuming here after its node
 * went away gets what it missed.
 */
export class LiveFeedReader extends EventEmitter implements Service, ReadingEmitter {
  private conn: Redis | undefined;
  private last = '0-0';
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly place: RedisPlace,
    private readonly options: { replay: number; blockMs?: number },
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    this.stopping = false;
    // Blocking reads hold their connection: one of its own.
    const conn = subscriberConnection(this.place.url);
    this.conn = conn;
    conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'live feed: Redis error'));
    const [key] = keys(this.place);
    const tail = await conn.xrevrange(key!, '+', '-', 'COUNT', Math.max(1, this.options.replay));
    this.last = tail[0]?.[0] ?? '0-0';
    // The tail is replayed oldest first, in the turn after start (listeners attach after start).
    const backlog = tail.reverse();
    this.loop = (async () => {
      await new Promise((r) => setImmediate(r));
      for (const [id, fields] of backlog) this.deliver(id, fields);
      await this.read();
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const conn = this.conn;
    this.conn = undefined;
    // A blocking read in progress ends with the connection.
    conn?.disconnect();
    await this.loop;
  }

  private async read(): Promise<void> {
    const [key] = keys(this.place);
    while (!this.stopping && this.conn) {
      const conn = this.conn;
      try {
        const res = await conn.xread('COUNT', 100, 'BLOCK', this.options.blockMs ?? 5000, 'STREAMS', key!, this.last);
        for (const [, entries] of res ?? []) for (const [id, fields] of entries) this.deliver(id, fields);
      } catch (err) {
        if (this.stopping) return;
        this.log.warn({ err: (err as Error).message }, 'live feed: reading the stream failed; retried in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private deliver(id: string, fields: string[]): void {
    this.last = id;
    const last = Number(id.split('-')[0]);
    let batch: z.infer<typeof Batch>;
    try {
      batch = Batch.parse(JSON.parse(fields[1] ?? ''));
    } catch (err) {
      this.log.warn({ id, err: (err as Error).message }, 'live feed: an entry of the wrong shape was skipped');
      return;
    }
    let next = last - batch.reduce((n, [, readings]) => n + readings.length, 0) + 1;
    for (const [tags, readings] of batch) {
      this.emit('readings', readings, tags, next);
      next += readings.length;
    }
  }
}
