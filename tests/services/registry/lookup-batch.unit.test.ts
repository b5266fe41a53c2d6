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
});
