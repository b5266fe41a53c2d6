import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { Service } from '../service.ts';
import { closeRedis, type RedisPlace, redisConnection, subscriberConnection } from './redis.ts';

/**
 * A list in Redis that several nodes take work from, each item by exactly one of them (BRPOP): downlinks sent by
 * any API node are published by one broker node, whose broker carries them to the node the device is on. The list
 * keeps the newest `max` items while no node takes them.
 */
export class WorkQueue implements Service {
  private pushConn: Redis | undefined;
  private popConn: Redis | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly place: RedisPlace,
    private readonly name: string,
    private readonly options: { max: number; consume?: (item: unknown) => Promise<void> },
    private readonly log: Logger,
  ) {}

  private get key(): string {
    return `${this.place.prefix}queue:${this.name}`;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.pushConn = redisConnection(this.place.url);
    this.pushConn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'work queue: Redis error'));
    const consume = this.options.consume;
    if (!consume) return;
    // A blocking pop holds its connection: one of its own.
    const pop = subscriberConnection(this.place.url);
    pop.on('error', (err: Error) => this.log.debug({ err: err.message }, 'work queue: Redis error'));
    this.popConn = pop;
    this.loop = this.take(pop, consume);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // Not cut off: a pop Redis already answered must reach its consumer (the pop blocks one second at most).
    await this.loop;
    const pop = this.popConn;
    this.popConn = undefined;
    if (pop) await closeRedis(pop);
    const push = this.pushConn;
    this.pushConn = undefined;
    if (push) await closeRedis(push);
  }

  /** Resolves once Redis holds the item. */
  async push(item: unknown): Promise<void> {
    const conn = this.pushConn;
    if (!conn) throw new Error('work queue is not running');
    await conn
      .multi()
      .lpush(this.key, JSON.stringify(item))
      .ltrim(this.key, 0, this.options.max - 1)
      .exec();
  }

  private async take(conn: Redis, consume: (item: unknown) => Promise<void>): Promise<void> {
    while (!this.stopping) {
      let popped: [string, string] | null;
      try {
        popped = await conn.brpop(this.key, 1);
      } catch (err) {
        if (this.stopping) return;
        this.log.warn({ err: (err as Error).message, queue: this.name }, 'work queue: pop failed; retried in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!popped) continue;
      try {
        await consume(JSON.parse(popped[1]));
      } catch (err) {
        this.log.warn({ err: (err as Error).message, queue: this.name }, 'work queue: an item failed');
      }
    }
  }
}
