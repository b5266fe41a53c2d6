import { describe, expect, it } from 'vitest';
import { catalogue } from '../../../services/common/catalogue.ts';
import type { CanonicalMessage } from '../../../services/common/reading.ts';
import {
  normaliseMessage,
  normaliseReadings,
  resolveTime,
  type TimePolicy,
} from '../../../services/ingest/normalise.ts';

const POLICY: TimePolicy = { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 };
const NOW = 1_764_000_000_000; // 2025-11-24T16:00:00.000Z
const DEVICE = 'aq-1';

const normalise = (msg: CanonicalMessage, prefix?: string) =>
  normaliseMessage(msg, DEVICE, NOW, catalogue, POLICY, prefix);

describe('resolveTime', () => {
  it('keeps an epoch-ms device time inside the window', () => {
    expect(resolveTime(NOW - 60_000, NOW, POLICY)).toStrictEqual(NOW - 60_000);
  });

  it('keeps the exact window bounds', () => {
    expect(resolveTime(NOW - POLICY.maxAgeMs, NOW, POLICY)).toStrictEqual(NOW - POLICY.maxAgeMs);
    expect(resolveTime(NOW + POLICY.maxSkewMs, NOW, POLICY)).toStrictEqual(NOW + POLICY.maxSkewMs);
  });

  it('parses an ISO 8601 string', () => {
    expect(resolveTime('2025-11-24T15:59:00.500Z', NOW, POLICY)).toStrictEqual(NOW - 59_500);
  });

  it('parses an ISO string with an offset', () => {
    expect(resolveTime('2025-11-24T17:00:00+01:00', NOW, POLICY)).toStrictEqual(NOW);
  });

  it('rounds fractional milliseconds', () => {
    expect(resolveTime(NOW - 1000.6, NOW, POLICY)).toStrictEqual(NOW - 1001);
  });

  it('is undefined when the time is absent', () => {
    expect(resolveTime(undefined, NOW, POLICY)).toStrictEqual(undefined);
  });

  it('is undefined for a time older than maxAge', () => {
    expect(resolveTime(NOW - POLICY.maxAgeMs - 1, NOW, POLICY)).toStrictEqual(undefined);
  });

  it('is undefined for a time further in the future than maxSkew', () => {
    expect(resolveTime(NOW + POLICY.maxSkewMs + 1, NOW, POLICY)).toStrictEqual(undefined);
  });

  it('is undefined for epoch seconds, which lie decades in the past', () => {
    expect(resolveTime(NOW / 1000, NOW, POLICY)).toStrictEqual(undefined);
  });

  it('is undefined for garbage strings', () => {
    expect(resolveTime('yesterday', NOW, POLICY)).toStrictEqual(undefined);
    expect(resolveTime('', NOW, POLICY)).toStrictEqual(undefined);
  });

  it('is undefined for non-finite numbers', () => {
    expect(resolveTime(Number.NaN, NOW, POLICY)).toStrictEqual(undefined);
    expect(resolveTime(Number.POSITIVE_INFINITY, NOW, POLICY)).toStrictEqual(undefined);
  });
});

describe('normaliseMessage good values', () => {
  it('turns canonical values into readings with the canonical unit and the device time', () => {
    const t = NOW - 5000;
    expect(normalise({ time: t, values: { air_temperature: 21.5, relative_humidity: 40, co2: 420 } })).toStrictEqual({
      readings: [
        { device: DEVICE, quantity: 'air_temperature', value: 21.5, unit: 'Cel', time: t },
        { device: DEVICE, quantity: 'relative_humidity', value: 40, unit: '%RH', time: t },
        { device: DEVICE, quantity: 'co2', value: 420, unit: 'ppm', time: t },
      ],
      rejected: [],
      timeAdjusted: false,
    });
  });

  it('resolves aliases, case-insensitively, to canonical names', () => {
    const t = NOW - 1000;
    const n = normalise({ time: t, values: { temp: 20, Humidity: 55, PM25: 12 } });
    expect(n.readings).toStrictEqual([
      { device: DEVICE, quantity: 'air_temperature', value: 20, unit: 'Cel', time: t },
      { device: DEVICE, quantity: 'relative_humidity', value: 55, unit: '%RH', time: t },
      { device: DEVICE, quantity: 'pm2_5', value: 12, unit: 'ug/m3', time: t },
    ]);
    expect(n.rejected).toStrictEqual([]);
  });

  it('converts Kelvin to degrees Celsius', () => {
    const n = normalise({ time: NOW, values: { air_temperature: 300 }, units: { air_temperature: 'K' } });
    expect(n.rejected).toStrictEqual([]);
    expect(n.readings.length).toStrictEqual(1);
    expect(n.readings[0]!.value).toBeCloseTo(26.85, 10);
    expect(n.readings[0]!.unit).toStrictEqual('Cel');
  });

  it('converts hPa to Pa and accepts unit aliases such as °C', () => {
    const n = normalise({
      time: NOW,
      values: { pressure: 1013.25, air_temperature: 18 },
      units: { pressure: 'hPa', air_temperature: '°C' },
    });
    expect(n.readings).toStrictEqual([
      { device: DEVICE, quantity: 'air_pressure', value: 101325, unit: 'Pa', time: NOW },
      { device: DEVICE, quantity: 'air_temperature', value: 18, unit: 'Cel', time: NOW },
    ]);
  });

  it('looks the unit up under the name the device used', () => {
    const n = normalise({ time: NOW, values: { temp: 59 }, units: { temp: '[degF]' } });
    expect(n.readings[0]!.value).toBeCloseTo(15, 10);
  });

  it('accepts values on the range bounds', () => {
    const n = normalise({ time: NOW, values: { air_temperature: -50, relative_humidity: 100 } });
    expect(n.readings.map((r) => r.value)).toStrictEqual([-50, 100]);
    expect(n.rejected).toStrictEqual([]);
  });
});

describe('normaliseMessage bad values', () => {
  it('rejects an unknown quantity with INGEST_UNKNOWN_QUANTITY on its values field', () => {
    expect(normalise({ time: NOW, values: { foo: 1 } }).rejected).toStrictEqual([
      { code: 'INGEST_UNKNOWN_QUANTITY', message: "'foo' is not a quantity of the catalogue", field: 'values.foo' },
    ]);
  });

  it('rejects a string value with INGEST_NOT_A_NUMBER', () => {
    expect(normalise({ time: NOW, values: { air_temperature: '21.5' } }).rejected).toStrictEqual([
      { code: 'INGEST_NOT_A_NUMBER', message: 'expected a number, got string', field: 'values.air_temperature' },
    ]);
  });

  it('rejects a null value with INGEST_NOT_A_NUMBER naming null', () => {
    expect(normalise({ time: NOW, values: { air_temperature: null } }).rejected).toStrictEqual([
      { code: 'INGEST_NOT_A_NUMBER', message: 'expected a number, got null', field: 'values.air_temperature' },
    ]);
  });

  it('rejects a boolean value with INGEST_NOT_A_NUMBER', () => {
    expect(normalise({ time: NOW, values: { parking_occupied: true } }).rejected).toStrictEqual([
      { code: 'INGEST_NOT_A_NUMBER', message: 'expected a number, got boolean', field: 'values.parking_occupied' },
    ]);
  });

  it('rejects a non-finite number with INGEST_NOT_FINITE', () => {
    expect(normalise({ time: NOW, values: { co2: Number.POSITIVE_INFINITY } }).rejected).toStrictEqual([
      { code: 'INGEST_NOT_FINITE', message: 'value Infinity is not finite', field: 'values.co2' },
    ]);
  });

  it('rejects a value that overflows in unit conversion with INGEST_NOT_FINITE, even when out-of-range is flagged', () => {
    const n = normaliseReadings(
      [{ name: 'illuminance', value: 1e306, unit: 'klx', field: 'values.illuminance' }],
      DEVICE,
      NOW,
      catalogue,
      { timePolicy: POLICY, plausibility: 'flag' },
    );
    expect(n.readings).toStrictEqual([]);
    expect(n.rejected).toStrictEqual([
      { code: 'INGEST_NOT_FINITE', message: "value 1e+306 'klx' is not finite in lx", field: 'values.illuminance' },
    ]);
  });

  it('rejects a unit that cannot be converted with INGEST_UNIT_UNSUPPORTED on its units field', () => {
    expect(
      normalise({ time: NOW, values: { x: 1, air_temperature: 20 }, units: { air_temperature: 'ppm' } }),
    ).toStrictEqual({
      readings: [],
      rejected: [
        { code: 'INGEST_UNKNOWN_QUANTITY', message: "'x' is not a quantity of the catalogue", field: 'values.x' },
        {
          code: 'INGEST_UNIT_UNSUPPORTED',
          message: "unit 'ppm' cannot be converted to Cel for air_temperature",
          field: 'units.air_temperature',
        },
      ],
      timeAdjusted: false,
    });
  });

  it('rejects a value outside the plausible range with INGEST_OUT_OF_RANGE', () => {
    expect(normalise({ time: NOW, values: { air_temperature: 500 } }).rejected).toStrictEqual([
      {
        code: 'INGEST_OUT_OF_RANGE',
        message: '500 Cel is outside the plausible range [-50, 70] of air_temperature',
        field: 'values.air_temperature',
      },
    ]);
  });

  it('checks the range after unit conversion', () => {
    // 500 K = 226.85 °C: out of range although the raw number is not the problem.
    const n = normalise({ time: NOW, values: { air_temperature: 500 }, units: { air_temperature: 'K' } });
    expect(n.readings).toStrictEqual([]);
    expect(n.rejected.map((r) => [r.code, r.field])).toStrictEqual([['INGEST_OUT_OF_RANGE', 'values.air_temperature']]);
  });

  it('gives each bad value its own reason and still returns the good values of the same message', () => {
    const n = normalise({
      time: NOW - 1000,
      values: { foo: 1, air_temperature: 21, hum: 'wet', co2: null, pm10: 15, noise: 500, x: 3 },
      units: { x: 'K' },
    });
    expect(n.readings).toStrictEqual([
      { device: DEVICE, quantity: 'air_temperature', value: 21, unit: 'Cel', time: NOW - 1000 },
      { device: DEVICE, quantity: 'pm10', value: 15, unit: 'ug/m3', time: NOW - 1000 },
    ]);
    expect(n.rejected.map((r) => [r.code, r.field])).toStrictEqual([
      ['INGEST_UNKNOWN_QUANTITY', 'values.foo'],
      ['INGEST_NOT_A_NUMBER', 'values.hum'],
      ['INGEST_NOT_A_NUMBER', 'values.co2'],
      ['INGEST_OUT_OF_RANGE', 'values.noise'],
      ['INGEST_UNKNOWN_QUANTITY', 'values.x'],
    ]);
    expect(n.timeAdjusted).toStrictEqual(false);
  });
});

describe('normaliseMessage time handling', () => {
  it('uses the receive time and flags timeAdjusted when the time is absent', () => {
    expect(normalise({ values: { co2: 500 } })).toStrictEqual({
      readings: [{ device: DEVICE, quantity: 'co2', value: 500, unit: 'ppm', time: NOW }],
      rejected: [],
      timeAdjusted: true,
    });
  });

  it('uses the receive time and flags timeAdjusted when the time is implausible', () => {
    for (const time of [NOW - POLICY.maxAgeMs - 1, NOW + POLICY.maxSkewMs + 1, 'not a date']) {
      const n = normalise({ time, values: { co2: 500 } });
      expect([n.timeAdjusted, n.readings[0]!.time]).toStrictEqual([true, NOW]);
    }
  });

  it('does not flag timeAdjusted when the device time is plausible', () => {
    const n = normalise({ time: '2025-11-24T15:00:00Z', values: { co2: 500 } });
    expect([n.timeAdjusted, n.readings[0]!.time]).toStrictEqual([false, NOW - 3600e3]);
  });
});

describe('normaliseMessage field prefix', () => {
  it('prefixes the field paths of batch elements', () => {
    const n = normalise({ time: NOW, values: { x: 1, air_temperature: 20 }, units: { air_temperature: 'ppm' } }, '0.');
    expect(n.rejected.map((r) => r.field)).toStrictEqual(['0.values.x', '0.units.air_temperature']);
  });

  it('uses no prefix by default', () => {
    expect(normalise({ time: NOW, values: { x: 1 } }).rejected.map((r) => r.field)).toStrictEqual(['values.x']);
  });
});
