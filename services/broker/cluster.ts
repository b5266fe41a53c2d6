import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import { closeRedis, redisConnection, subscriberConnection } from '../common/cluster/redis.ts';

/** The persistence surface the broker itself calls; Aedes drives the rest. */
interface RedisPersistence {
  setup(broker: unknown): Promise<void>;
  destroy(): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> | Readable;
}

// aedes-persistence-redis ships no types, and its main entry wraps the store in a callback adapter that Aedes 1.x
// refuses (it requires an async setup()); the async class underneath is what Aedes 1.x expects.
const require = createRequire(import.meta.url);
const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: {
  conn: Redis;
}) => RedisPersistence;

export interface ClusterBackends {
  mq: ReturnType<typeof MQEmitterRedis>;
  persistence: RedisPersistence;
  /** The command connection (also the shared login throttle's). */
  redis: Redis;
  close(): Promise<void>;
}

/**
 * Cluster mode: every broker node on one Redis shares the message bus (mqemitter-redis: a publish on node B reaches
 * subscribers on node A) and the sessions, subscriptions and retained messages (aedes-persistence-redis).
 */
export function redisBackends(url: string): ClusterBackends {
  const conn = redisConnection(url);
  const persistence = new AsyncRedisPersistence({ conn });
  // Aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`), but this store yields an async iterable.
  const retained = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => Readable.from(retained(patterns));
  const mq = MQEmitterRedis({ subConn: subscriberConnection(url), pubConn: redisConnection(url) });
  return {
    mq,
    persistence,
    redis: conn,
    async close() {
      // After aedes.close() (which closes the mq) persistence.destroy() would unsubscribe through the closed mq and
      // leave an unhandled "Connection is closed" rejection: closing the store's connection is all that is left.
      // QUIT, not a hard disconnect: commands that the clients' teardown still has in flight get their replies.
      await closeRedis(conn);
    },
  };
}
