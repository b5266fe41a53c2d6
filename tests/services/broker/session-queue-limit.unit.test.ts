import { describe, expect, it } from 'vitest';
import { limitSessionQueues, type OutgoingQueues } from '../../../services/broker/session-queue-limit.ts';

/** A persistence's queue methods as Aedes' memory persistence behaves: enqueue stores, clear returns what it removed. */
function fakePersistence() {
  const stored = new Map<string, unknown[]>();
  const streamed: string[] = [];
  const store = (sub: { clientId: string }, packet: unknown) =>
    void stored.set(sub.clientId, [...(stored.get(sub.clientId) ?? []), packet]);
  const p: OutgoingQueues = {
    async outgoingEnqueue(sub, packet) {
      store(sub, packet);
    },
    async outgoingEnqueueCombi(subs, packet) {
      for (const sub of subs) store(sub, packet);
    },
    async outgoingClearMessageId(client) {
      const queue = stored.get(client.id) ?? [];
      const removed = queue.shift();
      if (queue.length === 0) stored.delete(client.id);
      return removed;
    },
    outgoingStream(client) {
      streamed.push(client.id);
      return [...(stored.get(client.id) ?? [])];
    },
  };
  return { p, streamed };
}

describe('limitSessionQueues: what a connecting client drains', () => {
  it("hands a client with nothing queued an empty iterable without asking the persistence, and one with a backlog the persistence's own stream", async () => {
    const { p, streamed } = fakePersistence();
    limitSessionQueues(p, 10, { connected: () => false, onDrop: () => undefined });
    expect([...(p.outgoingStream({ id: 'clean' }) as Iterable<unknown>)]).toStrictEqual([]);
    await p.outgoingEnqueue({ clientId: 'away' }, 'm1');
    await p.outgoingEnqueueCombi([{ clientId: 'away' }, { clientId: 'other' }], 'm2');
    expect([...(p.outgoingStream({ id: 'away' }) as Iterable<unknown>)]).toStrictEqual(['m1', 'm2']);
    expect([...(p.outgoingStream({ id: 'other' }) as Iterable<unknown>)]).toStrictEqual(['m2']);
    expect(streamed).toStrictEqual(['away', 'other']);
    await p.outgoingClearMessageId({ id: 'away' }, 'm1');
    expect([...(p.outgoingStream({ id: 'away' }) as Iterable<unknown>)]).toStrictEqual(['m2']);
    await p.outgoingClearMessageId({ id: 'away' }, 'm2');
    expect([...(p.outgoingStream({ id: 'away' }) as Iterable<unknown>)]).toStrictEqual([]);
    expect(streamed).toStrictEqual(['away', 'other', 'away']);
  });
});
