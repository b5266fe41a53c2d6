import { fieldSet, floatValue, intValue, pointLine, stringValue, tagSet } from '../line-protocol.ts';
import { ROLLUP } from '../rollups.ts';
import type { AirQualityReport } from './report.ts';

/**
 * The air-quality report as InfluxDB points, for dashboards (Grafana reads InfluxDB, not the API): the rollup
 * service writes the running year's report once a day, one point per station, pollutant and limit, stamped with the
 * year's first instant, so each day's report overwrites the day before's and a year keeps one point per limit.
 * Kept with the daily rollups (retention policy rollup_1d, forever).
 */
export const AIR_QUALITY_POINTS = { measurement: 'sus_air_quality', policy: ROLLUP['1d'].policy } as const;

/**
 * Tags department, device, district, quantity, standard, period; fields limit_value, max_exceedances and
 * exceedances (hourly and daily limits), annual_mean (when any hour was valid), data_capture, valid_hours,
 * valid_days, verdict (met | exceeded | insufficient data) and applies (1 when the standard applies to the year).
 */
export function airQualityLines(r: AirQualityReport): string[] {
  const time = Date.UTC(r.year, 0, 1);
  const lines: string[] = [];
  for (const s of r.stations) {
    for (const p of s.pollutants) {
      for (const l of p.limits) {
        const fields: Record<string, string> = { limit_value: floatValue(l.value) };
        if (l.maxExceedances !== null) fields.max_exceedances = intValue(l.maxExceedances);
        if (l.exceedances !== null) fields.exceedances = intValue(l.exceedances);
        if (p.annualMean !== null) fields.annual_mean = floatValue(p.annualMean);
        fields.data_capture = floatValue(p.dataCapture);
        fields.valid_hours = intValue(p.validHours);
        fields.valid_days = intValue(p.validDays);
        fields.verdict = stringValue(l.verdict);
        fields.applies = intValue(l.applies ? 1 : 0);
        const tags = tagSet({
          department: s.department,
          device: s.device,
          district: s.district,
          period: l.period,
          quantity: p.quantity,
          standard: l.standard,
        });
        lines.push(pointLine(AIR_QUALITY_POINTS.measurement, tags, fieldSet(fields), time));
      }
    }
  }
  return lines;
}
