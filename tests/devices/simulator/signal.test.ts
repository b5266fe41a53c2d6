import { describe, expect, it } from 'vitest';
import { DEVICE_TYPE_IDS, DEVICE_TYPES, type DeviceTypeId } from '../../../devices/simulator/device-types.ts';
import { hashSeed, mulberry32 } from '../../../devices/simulator/rng.ts';
import { createDeviceState, localClock, sampleReading } from '../../../devices/simulator/signal.ts';
import { catalogue } from '../../../services/common/catalogue.ts';

const HOUR = 3_600_000;
/** Monday 2024-06-03 00:00 in Europe/Berlin (CEST). */
const MONDAY = Date.UTC(2024, 5, 2, 22, 0, 0);

interface Sample {
  atMs: number;
  values: Record<string, number>;
}

function simulate(type: DeviceTypeId, hours: number, seed = 42, stepMs = HOUR): Sample[] {
  const rng = mulberry32(seed);
  const state = createDeviceState();
  const out: Sample[] = [];
  for (let i = 0; i < (hours * HOUR) / stepMs; i++) {
    const atMs = MONDAY + i * stepMs;
    out.push({ atMs, values: sampleReading(type, state, atMs, rng).values });
  }
  return out;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

describe('localClock', () => {
  it('uses the city time zone', () => {
    expect(localClock(MONDAY)).toEqual({ hour: 0, weekday: 1, weekend: false });
    expect(localClock(MONDAY + 5 * 24 * HOUR + 8.5 * HOUR)).toEqual({ hour: 8.5, weekday: 6, weekend: true });
  });
});

describe('sampleReading', () => {
  it.each(DEVICE_TYPE_IDS)('produces every quantity of %s within the catalogue ranges over a week', (type) => {
    const expected = Object.keys(DEVICE_TYPES[type].quantities).sort();
    for (const seed of [1, 2, 3]) {
      for (const { values } of simulate(type, 24 * 7, seed)) {
        expect(Object.keys(values).sort()).toEqual(expected);
        for (const [q, v] of Object.entries(values)) {
          const range = catalogue.get(q)?.range;
          expect(range, q).toBeDefined();
          expect(Number.isFinite(v), `${q}=${v}`).toBe(true);
          expect(v, q).toBeGreaterThanOrEqual(range?.[0] ?? Number.NaN);
          expect(v, q).toBeLessThanOrEqual(range?.[1] ?? Number.NaN);
        }
      }
    }
  });

  it('is deterministic for the same seed and state', () => {
    expect(simulate('air_quality', 48, 7)).toEqual(simulate('air_quality', 48, 7));
    expect(simulate('air_quality', 48, 7)).not.toEqual(simulate('air_quality', 48, 8));
  });

  it('keeps the demo signals in their realistic ranges', () => {
    const ranges: Array<[DeviceTypeId, string, number, number]> = [
      ['air_quality', 'pm2_5', 5, 40],
      ['air_quality', 'no2', 10, 80],
      ['air_quality', 'air_temperature', 5, 25],
      ['air_quality', 'battery_voltage', 3.3, 4.2],
      ['air_quality', 'rssi', -110, -60],
      ['water_level', 'water_level', 0.4, 1.5],
      ['soil_moisture', 'soil_moisture', 15, 45],
    ];
    for (const [type, q, lo, hi] of ranges) {
      for (const { values } of simulate(type, 24 * 7, 11)) {
        expect(values[q]).toBeGreaterThanOrEqual(lo);
        expect(values[q]).toBeLessThanOrEqual(hi);
      }
    }
  });

  it('makes NO2 higher in the rush hours than at night', () => {
    const samples = simulate('air_quality', 24 * 7 * 4, 5);
    const at = (hours: number[]) =>
      mean(
        samples
          .filter((s) => {
            const c = localClock(s.atMs);
            return !c.weekend && hours.includes(Math.floor(c.hour));
          })
          .map((s) => s.values.no2 ?? Number.NaN),
      );
    const rush = at([8, 17]);
    const night = at([1, 2, 3, 4]);
    expect(rush).toBeGreaterThan(night + 15);
  });

  it('peaks air temperature in the afternoon', () => {
    const samples = simulate('climate', 24 * 7 * 4, 5);
    const at = (h: number) =>
      mean(samples.filter((s) => Math.floor(localClock(s.atMs).hour) === h).map((s) => s.values.air_temperature ?? 0));
    expect(at(15)).toBeGreaterThan(at(4) + 5);
  });

  it('counts less traffic on weekends than on weekdays', () => {
    const samples = simulate('traffic_counter', 24 * 7 * 4, 9);
    const perDay = (weekend: boolean) =>
      (samples
        .filter((s) => localClock(s.atMs).weekend === weekend)
        .reduce((a, s) => a + (s.values.vehicle_count ?? 0), 0) /
        samples.filter((s) => localClock(s.atMs).weekend === weekend).length) *
      24;
    expect(perDay(true)).toBeLessThan(perDay(false) * 0.8);
  });

  it('occupies parking bays more in the daytime than at night', () => {
    const samples = simulate('parking', 24 * 7 * 8, 3);
    const at = (hours: number[]) =>
      mean(
        samples
          .filter((s) => hours.includes(Math.floor(localClock(s.atMs).hour)))
          .map((s) => s.values.parking_occupied ?? 0),
      );
    for (const s of samples) expect([0, 1]).toContain(s.values.parking_occupied);
    expect(at([11, 12, 13, 14])).toBeGreaterThan(at([1, 2, 3, 4]) + 0.4);
  });

  it('fills waste bins slowly and empties them', () => {
    const fill = simulate('waste_fill', 24 * 7 * 3, 4).map((s) => s.values.fill_level ?? 0);
    const rises = fill.slice(1).filter((v, i) => v > (fill[i] ?? 0) + 0.5).length;
    const drops = fill.slice(1).filter((v, i) => v < (fill[i] ?? 0) - 30).length;
    expect(rises).toBeGreaterThan(fill.length / 4);
    expect(drops).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < fill.length; i++) expect((fill[i] ?? 0) - (fill[i - 1] ?? 0)).toBeLessThan(10);
  });

  it('drains the battery slowly', () => {
    const v = simulate('soil_moisture', 24 * 14, 6).map((s) => s.values.battery_voltage ?? 0);
    const first = mean(v.slice(0, 24));
    const last = mean(v.slice(-24));
    expect(last).toBeLessThan(first);
    expect(first - last).toBeLessThan(0.5);
  });

  it('advances the state with the elapsed time, not the number of calls', () => {
    // Same seed, one reading per hour vs. one per 10 min: the fill level after a day agrees.
    const hourly = simulate('waste_fill', 24, 21, HOUR);
    const tenMin = simulate('waste_fill', 24, 21, HOUR / 6);
    const h = hourly.at(-1)?.values.fill_level ?? 0;
    const t = tenMin.at(-1)?.values.fill_level ?? 0;
    expect(Math.abs(h - t)).toBeLessThan(6);
  });

  it('accepts a device type spec as well as an id', () => {
    const rng = mulberry32(hashSeed('x'));
    const r = sampleReading(DEVICE_TYPES.noise, createDeviceState(), MONDAY, rng);
    expect(Object.keys(r.values)).toEqual(['noise_laeq']);
  });
});

describe('mulberry32', () => {
  it('is reproducible and uniform-ish in [0, 1)', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(Math.abs(mean(xs) - 0.5)).toBeLessThan(0.02);
  });
});
