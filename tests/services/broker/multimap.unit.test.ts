import { describe, expect, it } from 'vitest';
import { Multimap } from '../../../services/broker/multimap.ts';

describe('Multimap: values per key, one kept as itself', () => {
  const a = { n: 'a' };
  const b = { n: 'b' };
  const c = { n: 'c' };

  it('holds one, several and again one value per key, in the order added', () => {
    const m = new Multimap<string, object>();
    m.add('k', a);
    expect([m.count('k'), m.values('k')]).toStrictEqual([1, [a]]);
    m.add('k', a);
    expect(m.count('k')).toBe(1);
    m.add('k', b);
    m.add('k', c);
    expect([m.count('k'), m.values('k')]).toStrictEqual([3, [a, b, c]]);
    expect(m.delete('k', b)).toBe(true);
    expect(m.delete('k', a)).toBe(true);
    expect([m.count('k'), m.values('k')]).toStrictEqual([1, [c]]);
    m.add('k', a);
    expect(m.values('k')).toStrictEqual([c, a]);
  });

  it('deletes only what it holds and forgets a key whose last value went', () => {
    const m = new Multimap<string, object>();
    m.add('k', a);
    expect(m.delete('k', b)).toBe(false);
    expect(m.delete('other', a)).toBe(false);
    expect(m.delete('k', a)).toBe(true);
    expect(m.delete('k', a)).toBe(false);
    expect([m.count('k'), m.values('k'), m.size]).toStrictEqual([0, [], 0]);
    m.add('k', a);
    m.add('k', b);
    m.delete('k', a);
    m.delete('k', b);
    expect(m.size).toBe(0);
  });

  it('hands out a copy: deleting while going through the values misses none', () => {
    const m = new Multimap<string, object>();
    for (const v of [a, b, c]) m.add('k', v);
    const seen: object[] = [];
    for (const v of m.values('k')) {
      seen.push(v);
      m.delete('k', v);
    }
    expect([seen, m.size]).toStrictEqual([[a, b, c], 0]);
  });
});
