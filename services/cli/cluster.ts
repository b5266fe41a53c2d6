import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { ClusterBus } from '../common/cluster/bus.ts';
import type { LeaseOptions } from '../common/cluster/lease.ts';
import type { RedisPlace } from '../common/cluster/redis.ts';
import { WorkQueue } from '../common/cluster/work-queue.ts';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import { type AlertNotice, AlertNoticeSchema } from '../common/rules.ts';
import { type Command, CommandSchema, type DesiredConfig, DesiredConfigSchema } from '../registry/index.ts';

/** What the API's stream and re-send route take (ApiContext's AlertFeed). */
export interface AlertFeed {
  on(event: 'alert', listener: (notice: AlertNotice) => void): unknown;
  off(event: 'alert', listener: (notice: AlertNotice) => void): unknown;
  deliveriesQueued(): void;
}

/** Where this process keeps the cluster's shared state; undefined without REDIS_URL (one node). */
export function redisPlace(config: Pick<Config, 'REDIS_URL' | 'SUS_REDIS_PREFIX'>): RedisPlace | undefined {
  return config.REDIS_URL ? { url: config.REDIS_URL, prefix: config.SUS_REDIS_PREFIX } : undefined;
}

export function leaseOptions(config: Pick<Config, 'SUS_LEASE_TTL_MS'>): LeaseOptions {
  // Renewed three times per TTL: a renewal lost to a slow turn does not cost the lease.
  return { ttlMs: config.SUS_LEASE_TTL_MS, renewMs: Math.max(100, Math.floor(config.SUS_LEASE_TTL_MS / 3)) };
}

export { ClusterBus };

const DownlinkItem = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('command'), command: CommandSchema }),
  z.object({ kind: z.literal('config'), config: DesiredConfigSchema }),
]);

/** The broker's downlink path as the API sees it (DownlinkSender). */
export interface Downlinks {
  publishCommand(c: Command): Promise<void>;
  publishConfig(c: DesiredConfig): Promise<void>;
}

// Downlinks waiting for a broker node; more than this and the oldest go (their state stays in the registry).
const DOWNLINK_QUEUE_MAX = 10_000;

/**
 * Downlinks across nodes: an API node puts them on a Redis list, one broker node takes each and publishes it through
 * its broker, whose Redis bus carries it to the node the device is connected to; the device's ack is recorded by
 * that node. With `broker` this process also takes downlinks from the list.
 */
export function downlinkQueue(place: RedisPlace, broker: Downlinks | undefined, log: Logger): WorkQueue & Downlinks {
  const consume = broker
    ? async (item: unknown) => {
        const parsed = DownlinkItem.safeParse(item);
        if (!parsed.success) {
          log.warn({ err: parsed.error.message }, 'a queued downlink of the wrong shape was dropped');
          return;
        }
        const d = parsed.data;
        if (d.kind === 'command') await broker.publishCommand(d.command);
        else await broker.publishConfig(d.config);
      }
    : undefined;
  const queue = new WorkQueue(place, 'downlinks', { max: DOWNLINK_QUEUE_MAX, consume }, log);
  return Object.assign(queue, {
    publishCommand: (command: Command) => queue.push({ kind: 'command', command }),
    publishConfig: (config: DesiredConfig) => queue.push({ kind: 'config', config }),
  });
}

/** The in-process evaluator's side of the alert feed (AlertEngine). */
interface LocalAlerts {
  on(event: 'alert', listener: (notice: AlertNotice) => void): unknown;
  deliveriesQueued(): void;
}

/**
 * Alert state changes for every API node's stream: a broker node sends its evaluator's notices over the bus, an API
 * node emits those of every node (its own process's too, when it hosts a broker). A re-sent delivery nudges the
 * notifier wherever the lease put it.
 */
export function clusterAlerts(bus: ClusterBus, local: LocalAlerts | undefined, log: Logger): AlertFeed {
  const feed = new EventEmitter<{ alert: [AlertNotice] }>();
  // One listener per open stream: as many as SUS_STREAM_MAX_CONNECTIONS.
  feed.setMaxListeners(0);
  local?.on('alert', (n) => {
    feed.emit('alert', n);
    bus
      .publish('alert', n)
      .catch((err: Error) => log.warn({ err: err.message }, 'alert notice not sent to the other nodes'));
  });
  bus.on('alert', (message) => {
    const parsed = AlertNoticeSchema.safeParse(message);
    if (parsed.success) feed.emit('alert', parsed.data);
  });
  bus.on('deliveries-queued', () => local?.deliveriesQueued());
  return Object.assign(feed, {
    deliveriesQueued() {
      local?.deliveriesQueued();
      bus.publish('deliveries-queued', {}).catch(() => undefined);
    },
  });
}
