import { describe, expect, it } from 'vitest';
import { DeviceFaults, MALFORMATIONS, malformedPayload } from '../../../devices/simulator/faults.ts';
import { mulberry32 } from '../../../devices/simulator/rng.ts';

const decisions = (f: DeviceFaults, n: number) => Array.from({ length: n }, () => f.decide());

describe('fault injection plan', () => {
  it('injects nothing without options', () => {
    const f = new DeviceFaults({}, mulberry32(1));
    expect(f.skewMs).toBe(0);
    expect(f.clock(1000)).toBe(1000);
    expect(decisions(f, 50).every((d) => !d.malformed && !d.duplicate && !d.withhold && !d.flushBacklog)).toBe(true);
  });

  it('malforms and duplicates about the configured shares, reproducibly for a seed', () => {
    const run = () => decisions(new DeviceFaults({ malformed: 0.2, duplicates: 0.1 }, mulberry32(42)), 5000);
    const a = run();
    expect(run()).toStrictEqual(a);
    const malformed = a.filter((d) => d.malformed).length / a.length;
    const duplicates = a.filter((d) => d.duplicate).length / a.length;
    expect(malformed).toBeGreaterThan(0.17);
    expect(malformed).toBeLessThan(0.23);
    // Duplicates are drawn among the well-formed messages: 0.1 × 0.8.
    expect(duplicates).toBeGreaterThan(0.06);
    expect(duplicates).toBeLessThan(0.1);
    expect(new Set(a.flatMap((d) => (d.malformed ? [d.malformed] : [])))).toStrictEqual(new Set(MALFORMATIONS));
  });

  it('an offline burst withholds N readings and flushes them with the next one', () => {
    const f = new DeviceFaults({ offline: 1, offlineReadings: 3 }, mulberry32(7));
    expect(decisions(f, 4).map((d) => [d.withhold, d.flushBacklog])).toStrictEqual([
      [true, false],
      [true, false],
      [true, false],
      [false, true],
    ]);
  });

  it('skews the clock of the configured share of devices by ± the skew', () => {
    const skews = Array.from(
      { length: 400 },
      (_, i) => new DeviceFaults({ clockSkewShare: 0.5, clockSkewMs: 90_000 }, mulberry32(i)).skewMs,
    );
    expect(new Set(skews)).toStrictEqual(new Set([0, 90_000, -90_000]));
    const skewed = skews.filter((s) => s !== 0).length / skews.length;
    expect(skewed).toBeGreaterThan(0.4);
    expect(skewed).toBeLessThan(0.6);
  });

  it('refuses shares outside [0, 1]', () => {
    expect(() => new DeviceFaults({ malformed: 1.5 }, mulberry32(1))).toThrow(
      'fault malformed must be a share in [0, 1], got 1.5',
    );
  });

  it('every malformation is something ingest must refuse', () => {
    expect(MALFORMATIONS.map((k) => malformedPayload(k, 1764000000000, 5))).toStrictEqual([
      '{"time":1764000000000,"seq":5,"values":{"air_temperature":2',
      'temperature=21.4;seq=5',
      '{"time":1764000000000,"seq":5,"values":{"air_temperature":"warm"}}',
      '{"time":1764000000000,"seq":5,"values":{"flux_capacitance":1.21}}',
      '{"time":1764000000000,"seq":5}',
      '{"time":1764000000000,"seq":5,"values":{"air_temperature":NaN}}',
    ]);
  });
});
