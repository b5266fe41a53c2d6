/** The parts of an Aedes persistence that queue QoS ≥ 1 messages for persistent sessions (`clean: false`). */
export interface OutgoingQueues {
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<unknown>;
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: unknown): Promise<unknown>;
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
  /** What Aedes pipes into a client on connect (its queued messages); an iterable serves `stream.pipeline` as well. */
  outgoingStream(client: { id: string }): Iterable<unknown> | NodeJS.ReadableStream;
}

// What a client with nothing queued gets to drain: frozen, so one array serves every connect.
const EMPTY_QUEUE: readonly unknown[] = Object.freeze([]);

const NOTHING = Promise.resolve();

/**
 * Bounds what the persistence keeps per persistent session: every QoS ≥ 1 message for a `clean: false` subscriber
 * stays queued until that client acknowledges it, so an integration that subscribed to the device tree and went
 * away would otherwise collect every reading in memory for as long as it stays away. Beyond `maxMessages` per
 * session, newer messages are not queued for it (`onDrop`, counted by the caller). A connected session gets twice
 * that, room for new messages while it acknowledges its backlog; one that falls further behind loses the next
 * message, which Aedes answers by closing it (a slow consumer, like one that does not drain). Messages, not bytes: a stored
 * message may be replaced by its PUBREL before it is cleared, so its size is not known then (each is at most
 * SUS_MAX_PAYLOAD_BYTES).
 *
 * The counts are this process's: only for the in-memory persistence (another node would clear what this one counted).
 */
export function limitSessionQueues(
  p: OutgoingQueues,
  maxMessages: number,
  hooks: { connected(clientId: string): boolean; onDrop(clientId: string): void },
): void {
  // Messages queued per client id; an entry exists only while something is queued.
  const queued = new Map<string, number>();
  const admit = (sub: { clientId: string }): boolean => {
    const now = queued.get(sub.clientId) ?? 0;
    if (now >= maxMessages && (now >= 2 * maxMessages || !hooks.connected(sub.clientId))) {
      hooks.onDrop(sub.clientId);
      return false;
    }
    queued.set(sub.clientId, now + 1);
    return true;
  };
  const enqueue = p.outgoingEnqueue.bind(p);
  const enqueueCombi = p.outgoingEnqueueCombi.bind(p);
  const clear = p.outgoingClearMessageId.bind(p);
  p.outgoingEnqueue = (sub, packet) => (admit(sub) ? enqueue(sub, packet) : NOTHING);
  p.outgoingEnqueueCombi = (subs, packet) => {
    const admitted = subs.filter(admit);
    return admitted.length === 0 ? NOTHING : enqueueCombi(admitted, packet);
  };
  const stream = p.outgoingStream.bind(p);
  // Aedes drains every connecting client's queue through stream.pipeline(outgoingStream(client), …): over a memory
  // persistence's Readable.from([]) that was ~100 µs of streams, an AbortController and a DOMException per CONNECT
  // with nothing queued (a clean session always); an empty array ends the same pipeline at a third of the cost.
  p.outgoingStream = (client) => (queued.has(client.id) ? stream(client) : (EMPTY_QUEUE as unknown[]));
  p.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    // The stored packet comes back only when one was queued under that id.
    if (removed) {
      const left = (queued.get(client.id) ?? 0) - 1;
      if (left > 0) queued.set(client.id, left);
      else queued.delete(client.id);
    }
    return removed;
  };
}
