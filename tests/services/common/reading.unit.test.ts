import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanonicalMessageSchema, isPlainCanonicalMessage } from '../../../services/common/reading.ts';

// Values and keys near every limit of the schema: empty and 64/65-character names, 32/33-character units.
const key = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.constantFrom('', 'a'.repeat(64), 'a'.repeat(65), '__proto__', 'constructor', 'air_temperature'),
);
const anyValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
  fc.boolean(),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
);
const unit = fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom('x'.repeat(32), 'x'.repeat(33)), anyValue);
// Weighted toward valid parts, so that a good share of messages reaches the accepting side of the check.
const valid = <T>(arb: fc.Arbitrary<T>) => ({ arbitrary: arb, weight: 4 });
const message = fc.record(
  {
    time: fc.oneof(valid(fc.integer()), valid(fc.string({ maxLength: 3 })), fc.double(), anyValue),
    seq: fc.oneof(valid(fc.nat()), fc.integer(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2), anyValue),
    values: fc.oneof(
      valid(fc.dictionary(key, anyValue, { maxKeys: 4 })),
      fc.dictionary(key, anyValue, { minKeys: 65, maxKeys: 66 }),
      anyValue,
    ),
    units: fc.oneof(valid(fc.dictionary(key, unit, { maxKeys: 3 })), anyValue),
    extra: anyValue,
  },
  { requiredKeys: [] },
);
// Through JSON, as the decoder sees them (no undefined, no NaN, `__proto__` as an own key).
const parsed = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

describe('isPlainCanonicalMessage', () => {
  it('passes only messages the schema accepts, and the schema would hand them back unchanged', () => {
    let passed = 0;
    fc.assert(
      fc.property(fc.oneof(valid(message), anyValue).map(parsed), (json) => {
        if (!isPlainCanonicalMessage(json)) return;
        passed++;
        const result = CanonicalMessageSchema.safeParse(json);
        expect(result.success).toBe(true);
        expect(result.data).toStrictEqual(json);
      }),
      { numRuns: 5000 },
    );
    // The property says something only if the generator reaches the accepting side often enough.
    expect(passed).toBeGreaterThan(100);
  });

  it('passes the messages devices send, so they skip the schema', () => {
    for (const json of [
      { values: { air_temperature: 7.4 } },
      { time: 1_764_400_000_000, seq: 3, values: { pm10: 12, pm2_5: 'x' }, units: { pm10: 'ug/m3' } },
      { time: '2026-11-20T08:15:45.787Z', values: { noise: null }, firmware: '1.2.0' },
    ]) {
      expect(isPlainCanonicalMessage(parsed(json))).toBe(true);
    }
  });

  it('leaves every schema violation to the schema', () => {
    for (const json of [
      null,
      [],
      { values: {} },
      { values: { '': 1 } },
      { values: { ['a'.repeat(65)]: 1 } },
      { values: { a: 1 }, seq: -1 },
      { values: { a: 1 }, seq: 1.5 },
      { values: { a: 1 }, time: true },
      { values: { a: 1 }, units: { a: 'x'.repeat(33) } },
      { values: { a: 1 }, units: null },
      { values: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`q${i}`, i])) },
    ]) {
      expect(isPlainCanonicalMessage(parsed(json))).toBe(false);
      expect(CanonicalMessageSchema.safeParse(parsed(json)).success).toBe(false);
    }
  });
});
