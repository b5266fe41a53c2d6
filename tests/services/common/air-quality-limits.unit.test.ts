import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AIR_QUALITY_LIMITS_URL,
  airQualityLimits,
  applies,
  parseAirQualityLimits,
  pollutants,
} from '../../../services/common/air-quality/limits.ts';
import { evaluate, minSamplesPerHour } from '../../../services/common/air-quality/report.ts';

const file = () => JSON.parse(readFileSync(AIR_QUALITY_LIMITS_URL, 'utf8'));

describe('air-quality limit values: data in one file, checked at load', () => {
  it('holds the limit values of both directives for pm10, pm2_5 and no2', () => {
    expect(pollutants(airQualityLimits)).toStrictEqual(['pm10', 'pm2_5', 'no2']);
    const [old, recast] = airQualityLimits.standards;
    expect([applies(old!, 2029), applies(old!, 2030), applies(recast!, 2029), applies(recast!, 2030)]).toStrictEqual([
      true,
      false,
      false,
      true,
    ]);
    expect(airQualityLimits.validity).toMatchObject({ hourMinSampleShare: 0.75, dayMinHours: 18 });
  });

  it('names every problem of a broken file: unknown quantity, wrong unit, a count on an annual mean', () => {
    const raw = file();
    raw.standards[0].limits[0].quantity = 'soot';
    raw.standards[0].limits[1].unit = 'mg/m3';
    raw.standards[1].limits[1].maxExceedances = 3;
    expect(() => parseAirQualityLimits(raw, 'broken.json')).toThrow(
      [
        'invalid air-quality limit values broken.json:',
        "  - standards.0.limits.0.quantity: 'soot' is not a catalogue quantity",
        "  - standards.0.limits.1.unit: 'mg/m3' is not pm10's unit 'ug/m3'",
        '  - standards.1.limits.1.maxExceedances: required for hourly and daily limits, not allowed for annual means',
      ].join('\n'),
    );
  });

  it('needs three of four quarter-hour samples, nine of twelve five-minute samples, one hourly sample', () => {
    expect([900, 300, 600, 3600, 7200].map((s) => minSamplesPerHour(s, 0.75))).toStrictEqual([3, 9, 5, 1, 1]);
  });
});

describe('air-quality verdicts', () => {
  const stats = (validHours: number, days: Array<{ hours: number; mean: number }>, above = 0) => ({
    validHours,
    annualMean: 30,
    hoursAbove: new Map([[200, above]]),
    days,
  });
  const verdicts = (r: ReturnType<typeof evaluate>) => r.limits.map((l) => `${l.standard} ${l.period} ${l.verdict}`);

  it('gives no verdict on a limit kept below the minimum data capture, but one on a limit already exceeded', () => {
    // 0.9 · 8760 = 7884 hours is the 2008/50/EC minimum; one hour fewer is not enough.
    expect(verdicts(evaluate(2025, 'no2', stats(7883, [], 19), 8760))).toStrictEqual([
      '2008/50/EC hour exceeded',
      '2008/50/EC year insufficient data',
      '(EU) 2024/2881 hour exceeded',
      '(EU) 2024/2881 day met',
      '(EU) 2024/2881 year exceeded',
    ]);
    expect(verdicts(evaluate(2025, 'no2', stats(7884, [], 18), 8760))).toStrictEqual([
      '2008/50/EC hour met',
      '2008/50/EC year met',
      '(EU) 2024/2881 hour exceeded',
      '(EU) 2024/2881 day met',
      '(EU) 2024/2881 year exceeded',
    ]);
  });

  it('counts a day above the limit only when it holds 18 valid hours', () => {
    const days = [
      { hours: 17, mean: 90 },
      { hours: 18, mean: 90 },
      { hours: 24, mean: 50 },
    ];
    const r = evaluate(2030, 'no2', stats(8760, days), 8760);
    expect(r.validDays).toBe(2);
    expect(r.limits.find((l) => l.period === 'day')).toMatchObject({ exceedances: 1, applies: true });
  });
});
