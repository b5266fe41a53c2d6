import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type LiveEvent, LiveHub } from '../../../services/api/live-hub.ts';
import type { Reading, ReadingTags } from '../../../services/common/reading.ts';

const TAGS: ReadingTags = { device: 'd1', department: 'env', district: 'Nord', device_type: 'aq', source: 'mqtt' };
const reading = (value: number): Reading => ({ device: 'd1', quantity: 'pm10', value, unit: 'ug/m3', time: 1 });

/** Ingest's emitter as the hub sees it (the Ingestor is an EventEmitter with this one event). */
function setup(replay: number) {
  const source = new EventEmitter<{ readings: [Reading[], ReadingTags] }>();
  const hub = new LiveHub(source, replay);
  hub.start();
  const emit = (...values: number[]) => source.emit('readings', values.map(reading), TAGS);
  return { hub, emit };
}
/** Lets the hub's turns run: it fans out in turns of its own, at most a bounded number per subscriber each. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await nextTurn();
};

describe('LiveHub: readings handed over in O(1), filtered and fanned out off the ingest path', () => {
  it('runs no subscriber while ingest emits; every subscriber gets every reading in a later turn', async () => {
    const { hub, emit } = setup(100);
    const seen: number[][] = [[], [], []];
    for (const list of seen) hub.subscribe((e) => void list.push(e.reading.value));
    emit(1, 2);
    emit(3);
    // Ingest's acknowledgement path is back: no subscriber's filter or write ran on it.
    expect(seen).toStrictEqual([[], [], []]);
    await turns();
    expect(seen).toStrictEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('costs ingest the same with a thousand slow subscribers as with none', async () => {
    const { hub, emit } = setup(10_000);
    let calls = 0;
    for (let i = 0; i < 1000; i++)
      hub.subscribe(() => {
        calls++;
        return undefined;
      });
    emit(...Array.from({ length: 100 }, (_, i) => i));
    expect(calls).toBe(0);
    await turns();
    expect(calls).toBe(100_000);
  });

  it('pauses a subscriber that cannot take more, resumes it, and drops it once it falls a whole buffer behind', async () => {
    const { hub, emit } = setup(4);
    const slow: number[] = [];
    const fast: number[] = [];
    let dropped = false;
    let full = true;
    const sub = hub.subscribe(
      (e) => {
        slow.push(e.reading.value);
        return !full;
      },
      { onDropped: () => (dropped = true) },
    );
    hub.subscribe((e) => void fast.push(e.reading.value));
    emit(1, 2);
    await turns();
    expect(slow).toStrictEqual([1]);
    full = false;
    sub.resume();
    await turns();
    expect(slow).toStrictEqual([1, 2]);
    full = true;
    emit(3, 4, 5, 6);
    await turns();
    // Took 3 and paused; 4..6 wait in the buffer of 4.
    expect([slow, dropped]).toStrictEqual([[1, 2, 3], false]);
    emit(7);
    await turns();
    // 4..7 still in reach.
    expect([slow, dropped]).toStrictEqual([[1, 2, 3], false]);
    emit(8);
    await turns();
    expect([slow, dropped]).toStrictEqual([[1, 2, 3], true]);
    sub.resume();
    emit(9);
    await turns();
    expect(slow).toStrictEqual([1, 2, 3]);
    expect(fast).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes after a Last-Event-ID from the buffer, and says when part of it was overwritten', async () => {
    const { hub, emit } = setup(3);
    emit(1, 2, 3, 4, 5);
    const got: Array<number | 'gap'> = [];
    const deliver = (e: LiveEvent) => void got.push(e.reading.value);
    hub.subscribe(deliver, { after: 3, onGap: () => got.push('gap') });
    await turns();
    expect(got).toStrictEqual([4, 5]);
    got.length = 0;
    hub.subscribe(deliver, { after: 1, onGap: () => got.push('gap') });
    await turns();
    expect(got).toStrictEqual(['gap', 3, 4, 5]);
  });

  it('drops a subscriber that throws and goes on with the others', async () => {
    const { hub, emit } = setup(10);
    const ok: number[] = [];
    let thrown = 0;
    hub.subscribe(() => {
      thrown++;
      throw new Error('socket closed');
    });
    hub.subscribe((e) => void ok.push(e.reading.value));
    emit(1);
    emit(2);
    await turns();
    expect([thrown, ok]).toStrictEqual([1, [1, 2]]);
  });
});

describe('LiveHub fed by the cluster feed (ids shared by every API node)', () => {
  function clusterSetup(replay: number) {
    const source = new EventEmitter<{ readings: [Reading[], ReadingTags, number] }>();
    const hub = new LiveHub(source, replay, true);
    hub.start();
    const emit = (firstId: number, ...values: number[]) => source.emit('readings', values.map(reading), TAGS, firstId);
    return { hub, emit };
  }

  it("numbers readings by the feed's ids and skips a hole in the numbering (readings Redis did not stream)", async () => {
    const { hub, emit } = clusterSetup(100);
    const seen: Array<[number, number]> = [];
    hub.subscribe((e) => void seen.push([e.id, e.reading.value]), { after: 0 });
    emit(41, 1, 2);
    emit(50, 3);
    await turns();
    expect(seen).toStrictEqual([
      [41, 1],
      [42, 2],
      [50, 3],
    ]);
  });

  it('resumes after an id this node has not read yet without sending the readings up to it twice', async () => {
    const { hub, emit } = clusterSetup(100);
    emit(10, 1);
    const seen: number[] = [];
    // The client saw up to id 12 on another API node; this one has read up to 10 so far.
    hub.subscribe((e) => void seen.push(e.id), { after: 12, onGap: () => undefined });
    emit(11, 2, 3, 4);
    await turns();
    expect(seen).toStrictEqual([13]);
  });
});
