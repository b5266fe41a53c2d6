import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { Service } from '../service.ts';
import { closeRedis, type RedisPlace, redisConnection, subscriberConnection } from './redis.ts';

type Handler = (message: unknown) => void;

/**
 * Messages between the nodes of one platform over Redis pub/sub: registry changes, alert notices. Fire and forget
 * (a node that is down misses them, and reads the registry afresh when it starts); a node does not hear its own.
 * One subscriber connection per process, whatever the number of channels.
 */
export class ClusterBus implements Service {
  /** This process among the nodes (also the holder named in leases). */
  readonly node = randomUUID();
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(
    private readonly place: RedisPlace,
    private readonly log: Logger,
  ) {}

  private channel(name: string): string {
    return `${this.place.prefix}bus:${name}`;
  }

  async start(): Promise<void> {
    this.pub = redisConnection(this.place.url);
    const sub = subscriberConnection(this.place.url);
    this.sub = sub;
    sub.on('error', (err: Error) => this.log.warn({ err: err.message }, 'cluster bus: Redis subscriber error'));
    this.pub.on('error', (err: Error) => this.log.warn({ err: err.message }, 'cluster bus: Redis error'));
    sub.on('message', (channel: string, text: string) => this.receive(channel, text));
    const channels = [...this.handlers.keys()].map((n) => this.channel(n));
    if (channels.length > 0) await sub.subscribe(...channels);
  }

  async stop(): Promise<void> {
    const { pub, sub } = this;
    this.pub = undefined;
    this.sub = undefined;
    if (sub) await closeRedis(sub);
    if (pub) await closeRedis(pub);
  }

  /** Registers a handler; channels named before start() are subscribed by it, later ones at once. */
  on(name: string, handler: Handler): void {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
      void this.sub
        ?.subscribe(this.channel(name))
        .catch((err: Error) => this.log.warn({ err: err.message, channel: name }, 'cluster bus: subscribe failed'));
    }
    set.add(handler);
  }

  /** Sends to every other node; resolves once Redis took it (rejects when Redis is away). */
  async publish(name: string, message: unknown): Promise<void> {
    const pub = this.pub;
    if (!pub) throw new Error('cluster bus is not running');
    await pub.publish(this.channel(name), JSON.stringify({ from: this.node, message }));
  }

  private receive(channel: string, text: string): void {
    const name = channel.slice(this.channel('').length);
    const set = this.handlers.get(name);
    if (!set) return;
    let envelope: { from?: unknown; message?: unknown };
    try {
      envelope = JSON.parse(text) as { from?: unknown; message?: unknown };
    } catch {
      this.log.warn({ channel: name }, 'cluster bus: a message that is not JSON was ignored');
      return;
    }
    if (envelope.from === this.node) return;
    for (const handler of set) {
      try {
        handler(envelope.message);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, channel: name }, 'cluster bus: a handler failed');
      }
    }
  }
}
