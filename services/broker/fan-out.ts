import type { Logger } from '../common/logger.ts';

/** The part of an mqemitter that Aedes publishes through. */
interface Emitter {
  emit(packet: { topic: string }, done?: (err?: Error | null) => void): void;
}

export interface FanOutStats {
  /** Publishes Redis refused or lost (it was away); counted, logged at most every 10 s. */
  failed: number;
  /** Publishes not sent because `maxInFlight` were still waiting on Redis (it hangs). */
  dropped: number;
}

/**
 * Aedes waits for the bus to take a publish before it reads the client's next packet, and a failed publish closes
 * the client. On the cluster's Redis bus that made a Redis outage a broker outage: every device publishing was
 * disconnected, and a frozen Redis grew a queue without end. A device's reading is durable once ingest took it
 * (before the PUBACK); the fan-out to other nodes' subscribers is best effort, like the live stream. So the publish
 * is handed to Redis and answered at once; at most `maxInFlight` wait on Redis, the rest are dropped and counted.
 */
export function bestEffortFanOut(mq: Emitter, log: Logger, maxInFlight = 10_000): FanOutStats {
  const stats: FanOutStats = { failed: 0, dropped: 0 };
  const emit = mq.emit.bind(mq);
  let inFlight = 0;
  let lastLog = 0;
  const report = (err: Error | undefined) => {
    const now = Date.now();
    if (now - lastLog < 10_000) return;
    lastLog = now;
    log.warn({ err: err?.message, ...stats, inFlight }, 'cluster: publishes not fanned out to other nodes (Redis)');
  };
  mq.emit = (packet, done) => {
    if (inFlight >= maxInFlight) {
      stats.dropped++;
      report(undefined);
    } else {
      inFlight++;
      emit(packet, (err) => {
        inFlight--;
        if (err) {
          stats.failed++;
          report(err);
        }
      });
    }
    if (done) process.nextTick(done);
  };
  return stats;
}
