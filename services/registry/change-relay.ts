import { z } from 'zod';
import type { Registry, RegistryEvent } from './registry.ts';

/** What carries registry changes between nodes (ClusterBus in services/common/cluster). */
export interface ChangeChannel {
  on(name: string, handler: (message: unknown) => void): void;
  publish(name: string, message: unknown): Promise<void>;
}

const Id = z.string().min(1).max(200);
const RemoteEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('device-changed'), id: Id }),
  z.object({ type: z.literal('key-revoked'), id: Id }),
  z.object({ type: z.literal('grant-changed'), id: Id }),
  z.object({ type: z.literal('rules-changed') }),
]);

/**
 * Every node's caches hear of every node's registry changes: a change made here goes out on the channel, one made
 * elsewhere is emitted here as if made here (the broker ends the sessions of a rotated device, ingest forgets it, the
 * API forgets a revoked key, streams re-read their grants). A change that arrives from the channel is not sent back.
 */
export function relayChanges(registry: Registry, channel: ChangeChannel, onError: (err: Error) => void): () => void {
  const fromElsewhere = new WeakSet<RegistryEvent>();
  const outgoing = (e: RegistryEvent) => {
    if (fromElsewhere.has(e)) return;
    channel.publish('registry', e).catch(onError);
  };
  registry.on('change', outgoing);
  channel.on('registry', (message) => {
    const parsed = RemoteEvent.safeParse(message);
    if (!parsed.success) return;
    const e: RegistryEvent = parsed.data;
    fromElsewhere.add(e);
    registry.emit('change', e);
  });
  return () => registry.off('change', outgoing);
}
