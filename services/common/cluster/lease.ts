import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { Service } from '../service.ts';
import { closeRedis, type RedisPlace, redisConnection } from './redis.ts';

// Renews the lease if this node holds it, takes it if nobody does; answers whether this node holds it now.
const CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

// Gives the lease up only if this node still holds it (it may have expired and been taken meanwhile).
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface LeaseOptions {
  /** A holder that stops renewing loses the lease after this long (SUS_LEASE_TTL_MS). */
  ttlMs: number;
  /** How often the holder renews and the others try to take it. */
  renewMs: number;
}

/**
 * Work that must run once in a cluster (timers, retention, webhooks, external subscriptions) runs under a lease
 * in Redis: one node holds it and renews it; when that node dies the lease expires and another takes it within
 * ttl + renew. A node that cannot reach Redis stops its duties before its lease can have expired, so two nodes
 * never both believe they hold it for longer than a clock's drift.
 */
export class RedisLease {
  private conn: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  /** When the last successful claim was sent: the lease is ours until then + ttl at the latest. */
  private claimedAt = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly place: RedisPlace,
    private readonly name: string,
    private readonly holder: string,
    private readonly options: LeaseOptions,
    private readonly onChange: (held: boolean) => Promise<void>,
    private readonly log: Logger,
  ) {}

  private get key(): string {
    return `${this.place.prefix}lease:${this.name}`;
  }

  get isHeld(): boolean {
    return this.held;
  }

  async start(): Promise<void> {
    this.conn = redisConnection(this.place.url);
    this.conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'lease: Redis error'));
    await this.turn();
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.turn());
    }, this.options.renewMs);
  }

  /** Hands the lease over: duties stop first, then the key goes, so another node takes it at its next try. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const conn = this.conn;
    this.conn = undefined;
    if (this.held) await this.set(false);
    if (conn) {
      await conn.eval(RELEASE, 1, this.key, this.holder).catch(() => undefined);
      await closeRedis(conn);
    }
  }

  private async turn(): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    const sentAt = Date.now();
    let held: boolean;
    try {
      held = (await conn.eval(CLAIM, 1, this.key, this.holder, String(this.options.ttlMs))) === 1;
      if (held) this.claimedAt = sentAt;
    } catch (err) {
      // Unknown whether it was renewed: keep the duties only while the last confirmed claim still covers them.
      held = this.held && Date.now() - this.claimedAt < this.options.ttlMs - this.options.renewMs;
      this.log.warn({ err: (err as Error).message, lease: this.name, held }, 'lease: Redis unreachable');
    }
    if (held !== this.held && this.conn) await this.set(held);
  }

  private async set(held: boolean): Promise<void> {
    this.held = held;
    this.log.info({ lease: this.name, held }, held ? 'lease taken: elected duties start' : 'lease lost or handed over');
    try {
      await this.onChange(held);
    } catch (err) {
      this.log.error({ err: (err as Error).message, lease: this.name }, 'lease: starting or stopping duties failed');
    }
  }
}

/**
 * The services that run on one node of the cluster. Without Redis (one node) they simply run; with it they start
 * when this node takes the lease and stop when it loses or hands it over (stop(): the drain of a node).
 */
export class ElectedDuties implements Service {
  private readonly lease: RedisLease | undefined;
  private readonly started: Service[] = [];

  constructor(
    private readonly duties: Service[],
    cluster: { place: RedisPlace; holder: string; options: LeaseOptions } | undefined,
    private readonly log: Logger,
  ) {
    this.lease =
      cluster &&
      new RedisLease(cluster.place, 'duties', cluster.holder, cluster.options, (held) => this.set(held), log);
  }

  /** Whether this node runs the elected duties now. */
  get leading(): boolean {
    return this.lease ? this.lease.isHeld : this.started.length > 0;
  }

  async start(): Promise<void> {
    if (this.lease) await this.lease.start();
    else await this.set(true);
  }

  async stop(): Promise<void> {
    if (this.lease) await this.lease.stop();
    else await this.set(false);
  }

  private async set(held: boolean): Promise<void> {
    if (held) {
      for (const duty of this.duties) {
        await duty.start();
        this.started.push(duty);
      }
      return;
    }
    for (const duty of this.started.splice(0).reverse()) {
      await duty.stop().catch((err: Error) => this.log.error({ err: err.message }, 'an elected duty failed to stop'));
    }
  }
}
