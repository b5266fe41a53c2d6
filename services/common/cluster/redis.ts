import { Redis } from 'ioredis';

/** Where a process keeps its shared state in Redis: the connection URL and the prefix of every key and channel. */
export interface RedisPlace {
  url: string;
  /** Keeps several platforms (or test runs) on one Redis apart (SUS_REDIS_PREFIX). */
  prefix: string;
}

/**
 * A command connection. Commands fail after a few retries instead of queueing without bound while Redis is away:
 * every caller treats the shared state as best effort or retries on its own schedule.
 */
export function redisConnection(url: string): Redis {
  return settledQuit(new Redis(url, { maxRetriesPerRequest: 3 }));
}

/**
 * A subscriber (or blocking-read) connection. ioredis's ready check sends INFO, which Redis refuses on a connection
 * that is already in subscriber mode ("only subscriber commands may be used"): a reconnect with subscriptions
 * pending raced it into an unhandled error. A subscriber needs no ready check; it resubscribes once connected.
 */
export function subscriberConnection(url: string): Redis {
  return settledQuit(new Redis(url, { enableReadyCheck: false }));
}

/**
 * mqemitter-redis calls `quit()` on close and never handles its promise. Aedes still publishes `$SYS` messages for
 * the clients it is closing, so a publish can follow the QUIT, hit the socket Redis already closed, and the flushed
 * QUIT rejects with "Connection is closed" — an unhandled rejection that failed CI with every test green.
 */
export function settledQuit(conn: Redis): Redis {
  const quit = conn.quit.bind(conn);
  conn.quit = ((...args: Parameters<Redis['quit']>) => {
    const done = quit(...args);
    done.catch(() => undefined); // the connection is gone either way, which is what quit asked for
    return done;
  }) as Redis['quit'];
  return conn;
}

/**
 * QUIT (replies to commands in flight still arrive) on a live connection; a hard disconnect on one that is not: while
 * Redis is away a QUIT waits in the offline queue through more failed reconnects before it is refused.
 */
export async function closeRedis(conn: Redis): Promise<void> {
  if (conn.status !== 'ready') return conn.disconnect();
  await conn.quit().catch(() => conn.disconnect());
}

/**
 * Ends a connection now and reports it ended. ioredis's quit() and disconnect() on a connection waiting to
 * reconnect only cancel the reconnect: it never emits 'end', and a library that waits for 'end' (mqemitter-redis's
 * close) waits for ever.
 */
export function endNow(conn: Redis): void {
  const waiting = conn.status === 'reconnecting';
  conn.disconnect();
  if (waiting) conn.emit('end');
}
