import type { Reading, ReadingTags } from '../common/reading.ts';
import type { LiveSource } from './context.ts';

export interface LiveEvent {
  id: number;
  reading: Reading;
  tags: ReadingTags;
}

type Subscriber = (e: LiveEvent) => void;

/**
 * Fans ingested readings out to stream subscribers and keeps the last `replay` of them in a ring buffer, so a
 * client that reconnects with Last-Event-ID gets what it missed (if still buffered) without gaps.
 */
export class LiveHub {
  private readonly ring: Array<LiveEvent | undefined>;
  private nextId = 1;
  private readonly subscribers = new Set<Subscriber>();
  private readonly onReadings = (readings: Reading[], tags: ReadingTags) => {
    for (const reading of readings) {
      const e: LiveEvent = { id: this.nextId++, reading, tags };
      this.ring[e.id % this.ring.length] = e;
      for (const s of this.subscribers) {
        // One faulty subscriber (a closed socket) must not stop the others or the ingest pipeline.
        try {
          s(e);
        } catch {
          this.subscribers.delete(s);
        }
      }
    }
  };

  constructor(
    private readonly source: LiveSource,
    replay: number,
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

  /** Buffered events after `lastId`, oldest first; `complete` is false when some were already overwritten. */
  since(lastId: number): { events: LiveEvent[]; complete: boolean } {
    const newest = this.nextId - 1;
    const oldest = Math.max(1, newest - this.ring.length + 1);
    const start = Math.max(lastId + 1, oldest);
    const events: LiveEvent[] = [];
    for (let id = start; id <= newest; id++) {
      const e = this.ring[id % this.ring.length];
      if (e && e.id === id) events.push(e);
    }
    return { events, complete: lastId + 1 >= oldest || lastId >= newest };
  }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }
}
