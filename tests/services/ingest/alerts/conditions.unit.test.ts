import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compileCondition } from '../../../../services/ingest/alerts/conditions.ts';
import { backoff, signature } from '../../../../services/ingest/alerts/webhook.ts';

const cond = (op: 'above' | 'below' | 'outside' | 'inside', a: number, b?: number) =>
  b === undefined ? { op, value: a, low: null, high: null } : { op, value: null, low: a, high: b };
const table = (c: ReturnType<typeof compileCondition>, values: number[]) =>
  values.map((v) => [v, c.breach(v), c.clear(v)]);

describe('threshold conditions with hysteresis', () => {
  it('above 1.5 with hysteresis 0.2: breaches above 1.5, clears at 1.3 or below', () => {
    expect(table(compileCondition(cond('above', 1.5), 0.2), [1.2, 1.3, 1.4, 1.5, 1.6])).toStrictEqual([
      [1.2, false, true],
      [1.3, false, true],
      [1.4, false, false],
      [1.5, false, false],
      [1.6, true, false],
    ]);
  });

  it('below 10 without hysteresis: breaches below, clears at or above', () => {
    expect(table(compileCondition(cond('below', 10), 0), [9, 10, 11])).toStrictEqual([
      [9, true, false],
      [10, false, true],
      [11, false, true],
    ]);
  });

  it('outside [0, 35] with hysteresis 1 clears only inside [1, 34]; inside [0, 35] the mirror image', () => {
    expect(table(compileCondition(cond('outside', 0, 35), 1), [-1, 0, 0.5, 1, 34, 34.5, 36])).toStrictEqual([
      [-1, true, false],
      [0, false, false],
      [0.5, false, false],
      [1, false, true],
      [34, false, true],
      [34.5, false, false],
      [36, true, false],
    ]);
    expect(table(compileCondition(cond('inside', 0, 35), 1), [-1.5, -0.5, 0, 35, 35.5, 36.5])).toStrictEqual([
      [-1.5, false, true],
      [-0.5, false, false],
      [0, true, false],
      [35, true, false],
      [35.5, false, false],
      [36.5, false, true],
    ]);
  });

  it('never breaches on NaN', () => {
    for (const op of ['above', 'below', 'outside', 'inside'] as const)
      expect([
        op,
        compileCondition(cond(op, 0, op === 'above' || op === 'below' ? undefined : 1), 0).breach(Number.NaN),
      ]).toStrictEqual([op, false]);
  });
});

describe('webhook signature and backoff', () => {
  it('signs `timestamp.body` with HMAC-SHA256 as sha256=<hex>', () => {
    const expected = createHmac('sha256', 'k'.repeat(16)).update('1764000000.{"a":1}').digest('hex');
    expect(signature('k'.repeat(16), '1764000000', '{"a":1}')).toBe(`sha256=${expected}`);
  });

  it('doubles the delay per attempt within ±20 % jitter and caps it at an hour', () => {
    expect([1, 2, 3, 4].map((n) => backoff(n, 1000, () => 0.5))).toStrictEqual([1000, 2000, 4000, 8000]);
    expect([backoff(3, 1000, () => 0), backoff(3, 1000, () => 1)]).toStrictEqual([3200, 4800]);
    expect(backoff(40, 1000, () => 0.5)).toBe(3_600_000);
  });
});
