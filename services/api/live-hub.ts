import type { ReadingEmitter } from '../common/cluster/live-feed.ts';
import type { Reading, ReadingTags } from '../common/reading.ts';

export interface LiveEvent {
  id: number;
  reading: Reading;
  tags: ReadingTags;
}

/**
 * Takes one event; returns false when the subscriber cannot take more for now (its socket is full): the hub then
 * holds its position until resume().
 */
export type Deliver = (e: LiveEvent) => boolean | undefined;

export interface SubscribeOptions {
  /** Resume after this event id (Last-Event-ID): buffered events after it are delivered first. */
  after?: number;
  /** Some events after `after` were no longer buffered (called once, before the first delivery). */
  onGap?: () => void;
  /** The subscriber fell a whole buffer behind (too slow) and was dropped. */
  onDropped?: () => void;
}

export interface Subscription {
  /** Delivery continues after a `false` from deliver (the socket drained). */
  resume(): void;
  close(): void;
}

interface Sub {
  deliver: Deliver;
  /** Set until the first delivery: only a resume may start with a gap. */
  onGap: (() => void) | undefined;
  onDropped: (() => void) | undefined;
  /** Id of the last event handled (delivered or skipped). */
  after: number;
  paused: boolean;
}

// Per subscriber and turn of the event loop: a subscriber far behind (a resume) cannot hold the loop for long.
const MAX_PER_TURN = 1000;

/**
 * Fans ingested readings out to stream subscribers and keeps the last `replay` of them in a ring buffer, so a
 * client that reconnects with Last-Event-ID gets what it missed (if still buffered) without gaps.
 *
 * Ingest's emitter calls in on its acknowledgement path, so the hand-over is a store into the ring and nothing else:
 * every subscriber's filter and write run later, in a turn of the event loop of their own. Each subscriber is a
 * position in the shared ring (its queue, bounded by the ring's size); one that pauses (a full socket) and falls a
 * whole ring behind is dropped, and never slows ingest or the other subscribers.
 */
export class LiveHub {
  private readonly ring: Array<LiveEvent | undefined>;
  private nextId = 1;
  private readonly subscribers = new Set<Sub>();
  private scheduled = false;
  private readonly onReadings = (readings: Reading[], tags: ReadingTags, firstId?: number) => {
    // A cluster's feed numbers the readings for every API node alike (Last-Event-ID resumes on any of them).
    if (firstId !== undefined && firstId > this.nextId) this.nextId = firstId;
    for (const reading of readings) {
      const id = this.nextId++;
      this.ring[id % this.ring.length] = { id, reading, tags };
    }
    this.schedule();
  };
  private readonly drain = () => {
    this.scheduled = false;
    const newest = this.nextId - 1;
    const oldest = Math.max(1, newest - this.ring.length + 1);
    let behind = false;
    for (const sub of this.subscribers) {
      if (sub.after + 1 < oldest) {
        // Events it has not seen were overwritten: a resume learns of the gap; a subscriber that fell behind (its
        // socket does not drain) is dropped.
        if (!sub.onGap) {
          this.drop(sub);
          continue;
        }
        sub.after = oldest - 1;
        sub.onGap();
      }
      sub.onGap = undefined;
      if (sub.paused) continue;
      const until = Math.min(newest, sub.after + MAX_PER_TURN);
      while (sub.after < until) {
        const e = this.ring[++sub.after % this.ring.length];
        // A hole in the cluster's numbering (readings Redis did not stream) holds an older event or none.
        if (e?.id !== sub.after) continue;
        let more: boolean | undefined;
        try {
          more = sub.deliver(e);
        } catch {
          // One faulty subscriber (a closed socket) must not stop the others.
          this.subscribers.delete(sub);
          break;
        }
        if (more === false) {
          sub.paused = true;
          break;
        }
      }
      if (sub.after < newest && !sub.paused && this.subscribers.has(sub)) behind = true;
    }
    if (behind) this.schedule();
  };

  constructor(
    private readonly source: ReadingEmitter,
    replay: number,
    /** Ids come from the cluster's feed (the same on every API node), not from this hub's own count. */
    private readonly sharedIds = false,
  ) {
    this.ring = new Array(replay);
  }

  start(): void {
    this.source.on('readings', this.onReadings);
  }

  stop(): void {
    this.source.off('readings', this.onReadings);
    this.subscribers.clear();
  }

  /** Delivers events after `opts.after` (default: from now on), in id order, each in a later turn than its arrival. */
  subscribe(deliver: Deliver, opts: SubscribeOptions = {}): Subscription {
    const newest = this.nextId - 1;
    // A resume from another API node may name readings this node has not read from the feed yet: they are not sent
    // twice. Anything further ahead than the buffer is a bogus id and means "from now on".
    const ahead =
      this.sharedIds && opts.after !== undefined && opts.after > newest && opts.after - newest <= this.ring.length;
    const after = opts.after === undefined ? newest : ahead ? opts.after : Math.min(opts.after, newest);
    const sub: Sub = { deliver, onGap: opts.onGap, onDropped: opts.onDropped, after, paused: false };
    this.subscribers.add(sub);
    if (after < newest) this.schedule();
    return {
      resume: () => {
        if (!sub.paused || !this.subscribers.has(sub)) return;
        sub.paused = false;
        this.schedule();
      },
      close: () => {
        this.subscribers.delete(sub);
      },
    };
  }

  private drop(sub: Sub): void {
    this.subscribers.delete(sub);
    sub.onDropped?.();
  }

  private schedule(): void {
    if (this.scheduled || this.subscribers.size === 0) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }
}
