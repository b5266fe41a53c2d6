import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import { closeRedis, endNow, redisConnection, subscriberConnection } from '../common/cluster/redis.ts';
import type { Logger } from '../common/logger.ts';
import { bestEffortFanOut, type FanOutStats } from './fan-out.ts';

/** The persistence surface the broker itself calls; Aedes drives the rest. */
interface RedisPersistence {
  setup(broker: unknown): Promise<void>;
  destroy(): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> | Readable;
  outgoingStream(client: unknown): AsyncIterable<unknown>;
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
  /** Publishes the bus could not take (Redis away or hanging); they were acknowledged all the same. */
  fanOut: FanOutStats;
  close(): Promise<void>;
}

/**
 * A read of messages from Redis that ends early if Redis fails midway, logged as `what`. Two reads need it:
 * - the retained messages of a SUBSCRIBE: Aedes pipes them without an 'error' listener, so a read cut short (Redis
 *   away, or the node closing its connection) was an uncaught exception. The subscriber misses retained messages;
 *   the live ones still reach it.
 * - a session's offline queue, read right after the CONNACK: a failed read closed the connection that had just
 *   been accepted, so a device connecting as Redis went away was dropped (and one without reconnects never
 *   published again). The messages not read stay queued in Redis for the session's next connection.
 */
async function* untilRedisFails(
  messages: AsyncIterable<unknown> | Readable,
  log: Logger,
  what: string,
): AsyncGenerator<unknown> {
  try {
    for await (const m of messages) yield m;
  } catch (err) {
    log.warn({ err: (err as Error).message }, `cluster: ${what} cut short (Redis)`);
  }
}

/**
 * Cluster mode: every broker node on one Redis shares the message bus (mqemitter-redis: a publish on node B reaches
 * subscribers on node A) and the sessions, subscriptions and retained messages (aedes-persistence-redis).
 */
export function redisBackends(url: string, log: Logger): ClusterBackends {
  const conn = redisConnection(url);
  // While Redis is away every connection reports each failed reconnect as an 'error'. Unheard, ioredis prints it;
  // mqemitter-redis re-emits its connections' errors on `state`, where an unheard 'error' throws: the broker process
  // ended a second into a Redis outage. Heard here: logged, and the connections keep retrying.
  conn.on('error', (err: Error) => log.warn({ err: err.message }, 'cluster: Redis error (sessions, throttle)'));
  const persistence = new AsyncRedisPersistence({ conn });
  // Aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`), but this store yields an async iterable.
  const retained = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) =>
    Readable.from(untilRedisFails(retained(patterns), log, 'retained messages'));
  const outgoing = persistence.outgoingStream.bind(persistence);
  persistence.outgoingStream = (client) => untilRedisFails(outgoing(client), log, 'offline queue');
  const subConn = subscriberConnection(url);
  const pubConn = redisConnection(url);
  const mq = MQEmitterRedis({ subConn, pubConn });
  // mqemitter-redis closes by QUIT and waits for both connections' 'end', which a connection waiting to reconnect
  // never emits: a broker stopped during a Redis outage never exited. Those are ended at once.
  const closeBus = mq.close.bind(mq);
  mq.close = (cb) => {
    const down = [subConn, pubConn].filter((c) => c.status !== 'ready');
    const closing = closeBus(cb);
    for (const c of down) endNow(c);
    return closing;
  };
  (mq as unknown as { state: EventEmitter }).state.on('error', (err: Error) =>
    log.warn({ err: err.message }, 'cluster: Redis error (message bus)'),
  );
  const fanOut = bestEffortFanOut(mq, log);
  return {
    mq,
    persistence,
    redis: conn,
    fanOut,
    async close() {
      // After aedes.close() (which closes the mq) persistence.destroy() would unsubscribe through the closed mq and
      // leave an unhandled "Connection is closed" rejection: closing the store's connection is all that is left.
      // QUIT, not a hard disconnect: commands that the clients' teardown still has in flight get their replies.
      await closeRedis(conn);
    },
  };
}
