import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';

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
  close(): Promise<void>;
}

/**
 * The bus's subscriber connection. ioredis's ready check sends INFO, which Redis refuses on a connection that is
 * already in subscriber mode ("only subscriber commands may be used"): a reconnect with subscriptions pending
 * raced it into an unhandled error. A subscriber needs no ready check; it resubscribes once connected.
 */
function subscriberConnection(url: string): Redis {
  return new Redis(url, { enableReadyCheck: false });
}

/**
 * mqemitter-redis calls `quit()` on close and never handles its promise. Aedes still publishes `$SYS` messages for
 * the clients it is closing, so a publish can follow the QUIT, hit the socket Redis already closed, and the flushed
 * QUIT rejects with "Connection is closed" — an unhandled rejection that failed CI with every test green.
 */
function settledQuit(conn: Redis): Redis {
  const quit = conn.quit.bind(conn);
  conn.quit = ((...args: Parameters<Redis['quit']>) => {
    const done = quit(...args);
    done.catch(() => undefined); // the connection is gone either way, which is what quit asked for
    return done;
  }) as Redis['quit'];
  return conn;
}

/**
 * Cluster mode: every broker node on one Redis shares the message bus (mqemitter-redis: a publish on node B reaches
 * subscribers on node A) and the sessions, subscriptions and retained messages (aedes-persistence-redis).
 */
export function redisBackends(url: string): ClusterBackends {
  const conn = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const persistence = new AsyncRedisPersistence({ conn });
  // Aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`), but this store yields an async iterable.
  const retained = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => Readable.from(retained(patterns));
  const mq = MQEmitterRedis({ subConn: settledQuit(subscriberConnection(url)), pubConn: settledQuit(new Redis(url)) });
  return {
    mq,
    persistence,
    async close() {
      // After aedes.close() (which closes the mq) persistence.destroy() would unsubscribe through the closed mq and
      // leave an unhandled "Connection is closed" rejection: closing the store's connection is all that is left.
      // QUIT, not a hard disconnect: commands that the clients' teardown still has in flight get their replies.
      await conn.quit().catch(() => conn.disconnect());
    },
  };
}
