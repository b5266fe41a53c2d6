import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopicMemo } from '../../../services/broker/topic-match-cache.ts';
import { type Harness, startBroker } from './harness.ts';

/** A flat one-byte string of `chars` characters, distinct per `i` (concatenation would build a rope instead). */
function bigTopic(prefix: string, i: number, chars: number): string {
  const buf = Buffer.alloc(chars - prefix.length, 0x61);
  buf.write(i.toString(36));
  return prefix + buf.toString('latin1');
}

describe('topic-match memo: bounded by the characters of the topics it keeps, not only by their count', () => {
  it('never holds more than its character budget while distinct 64 KiB topics stream through', () => {
    const memo = new TopicMemo<number>({ maxTopics: 100_000, maxTopicChars: 1024 * 1024 });
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      memo.get(bigTopic('sus/v1/devices/d/up/', i, 64 * 1024), () => i);
      peak = Math.max(peak, memo.size.chars);
    }
    expect(peak).toBeLessThanOrEqual(1024 * 1024);
    expect(memo.size.topics).toBeGreaterThan(0);
  });

  it('answers a topic larger than a tenth of the budget without keeping it', () => {
    const memo = new TopicMemo<number>({ maxTopics: 10, maxTopicChars: 100_000 });
    let computed = 0;
    const topic = bigTopic('t/', 1, 20_000);
    memo.get(topic, () => ++computed);
    memo.get(topic, () => ++computed);
    expect([computed, memo.size]).toStrictEqual([2, { topics: 0, chars: 0 }]);
  });

  it('still remembers the usual short topics, up to its count', () => {
    const memo = new TopicMemo<number>({ maxTopics: 3, maxTopicChars: 1024 });
    let computed = 0;
    for (const t of ['a', 'b', 'a', 'c', 'a', 'd', 'a']) memo.get(t, () => ++computed);
    // a, b, c kept; d starts over; a computed again after that.
    expect([computed, memo.size]).toStrictEqual([5, { topics: 2, chars: 2 }]);
  });
});

describe('broker memory under distinct large topics', () => {
  let h: Harness;
  let gc: () => void;

  beforeAll(async () => {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
    h = await startBroker();
  });
  afterAll(async () => h?.stop());

  it('does not keep what one device publishes to thousands of distinct 60 KiB topics', async () => {
    const secret = await h.device('tm-big');
    const client = await h.connect({ username: 'tm-big', password: secret, clientId: 'tm-big' });
    const publish = (i: number) =>
      client.publishAsync(bigTopic('sus/v1/devices/tm-big/up/', i, 60_000), '{}', { qos: 1 });
    await publish(-1); // the first publish sets up what every later one reuses
    h.uplinks.length = 0;
    gc();
    const before = process.memoryUsage().heapUsed;
    const count = 1500;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => publish(i + k)));
      h.uplinks.length = 0; // the harness's own record of uplinks is not the broker's memory
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 1,500 × 60 KB = 90 MB if every topic were kept; each of the two memos may hold 8 MiB of topics.
    expect(grown).toBeLessThan(40 * 1024 * 1024);
  });
});
