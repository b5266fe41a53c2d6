import { describe, expect, it } from 'vitest';
import { LookupBatch } from '../../../services/registry/lookup-batch.ts';

describe('LookupBatch', () => {
  it('answers the lookups of one turn with one call, each key once, duplicates and absent keys included', async () => {
    const calls: string[][] = [];
    const batch = new LookupBatch<string, number>(async (keys) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 'absent').map((k) => [k, k.length]));
    });
    const answers = await Promise.all(['a', 'bb', 'a', 'absent', 'ccc'].map((k) => batch.load(k)));
    expect(answers).toStrictEqual([1, 2, 1, undefined, 3]);
    expect(calls).toStrictEqual([['a', 'bb', 'absent', 'ccc']]);
  });

  it('splits a turn with more keys than the bound into several calls', async () => {
    const calls: string[][] = [];
    const batch = new LookupBatch<string, string>(async (keys) => {
      calls.push(keys);
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    }, 2);
    expect(await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => batch.load(k)))).toStrictEqual([
      'A',
      'B',
      'C',
      'D',
      'E',
    ]);
    expect(calls).toStrictEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('a failed call rejects every lookup of its batch; the next turn asks again', async () => {
    let fail = true;
    const batch = new LookupBatch<string, number>(async (keys) => {
      if (fail) throw new Error('registry down');
      return new Map(keys.map((k) => [k, 1]));
    });
    const failed = await Promise.allSettled([batch.load('a'), batch.load('b')]);
    expect(failed.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toStrictEqual([
      'registry down',
      'registry down',
    ]);
    fail = false;
    expect(await batch.load('a')).toBe(1);
  });
  it('keys asked while a query is out wait for it and go together in one query that starts after it returned', async () => {
    const calls: string[][] = [];
    let release: () => void = () => {};
    const batch = new LookupBatch<string, number>(async (keys) => {
      calls.push(keys);
      if (calls.length === 1) await new Promise<void>((r) => (release = r));
      return new Map(keys.map((k) => [k, calls.length]));
    });
    const first = batch.load('a');
    await new Promise((r) => setImmediate(r));
    expect(calls).toStrictEqual([['a']]);
    // One CONNECT per turn, as in a reconnect storm: none of them may join the query already sent.
    const later: Promise<number | undefined>[] = [];
    for (const k of ['b', 'c', 'd']) {
      later.push(batch.load(k));
      await new Promise((r) => setImmediate(r));
    }
    expect(calls).toStrictEqual([['a']]);
    release();
    expect(await first).toBe(1);
    expect(await Promise.all(later)).toStrictEqual([2, 2, 2]);
    expect(calls).toStrictEqual([['a'], ['b', 'c', 'd']]);
  });

  it('a quiet node asks at once: a lookup with no query out is sent in the next turn', async () => {
    const calls: string[][] = [];
    const batch = new LookupBatch<string, number>(async (keys) => {
      calls.push(keys);
      return new Map(keys.map((k) => [k, 1]));
    });
    expect(await batch.load('a')).toBe(1);
    expect(await batch.load('b')).toBe(1);
    expect(calls).toStrictEqual([['a'], ['b']]);
  });
  it('lookups soon after a query wait for the interval and share the next query', async () => {
    const calls: string[][] = [];
    const batch = new LookupBatch<string, number>(
      async (keys) => {
        calls.push(keys);
        return new Map(keys.map((k) => [k, 1]));
      },
      500,
      50,
    );
    expect(await batch.load('a')).toBe(1);
    const later: Promise<number | undefined>[] = [];
    for (const k of ['b', 'c']) {
      later.push(batch.load(k));
      await new Promise((r) => setImmediate(r));
    }
    expect(calls).toStrictEqual([['a']]);
    expect(await Promise.all(later)).toStrictEqual([1, 1]);
    expect(calls).toStrictEqual([['a'], ['b', 'c']]);
  });
});
