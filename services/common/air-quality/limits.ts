/**
 * The EU limit values and validity rules of the air-quality report. The values themselves are DATA in
 * `../catalogue/air-quality-limits.json` (with the directive and annex of each); this module validates the file once
 * at load, against its schema and the quantity catalogue.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type Catalogue, catalogue } from '../catalogue.ts';

export const LIMIT_PERIODS = ['hour', 'day', 'year'] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];

const LimitSchema = z.strictObject({
  quantity: z.string().min(1),
  /** The quantity's canonical catalogue unit: a value in another unit would be compared wrongly. */
  unit: z.string().min(1),
  period: z.enum(LIMIT_PERIODS),
  value: z.number().positive(),
  /** Hours or days a year whose mean may be above the value; absent for an annual mean. */
  maxExceedances: z.number().int().min(0).optional(),
  /** Where in the directive the value is laid down. */
  source: z.string().min(1),
});

const StandardSchema = z.strictObject({
  id: z.string().min(1),
  title: z.string().min(1),
  url: z.url(),
  /** Calendar years the limit values apply to (null: open). */
  firstYear: z.number().int().nullable(),
  lastYear: z.number().int().nullable(),
  /** Share of the year's hours that must hold a valid hourly value for a verdict. */
  minDataCapture: z.number().gt(0).max(1),
  dataCaptureSource: z.string().min(1),
  limits: z.array(LimitSchema).min(1),
});

export const AirQualityLimitsSchema = z.strictObject({
  version: z.literal(1),
  notes: z.array(z.string()).optional(),
  /** Said in every report: what low-cost sensor data are and are not. */
  notice: z.string().min(1),
  validity: z.strictObject({
    /** An hourly value needs at least this share of the samples the device's reporting interval gives. */
    hourMinSampleShare: z.number().gt(0).max(1),
    /** A daily mean needs at least this many valid hourly values. */
    dayMinHours: z.number().int().min(1).max(24),
    source: z.string().min(1),
  }),
  standards: z.array(StandardSchema).min(1),
});

export type AirQualityLimits = z.infer<typeof AirQualityLimitsSchema>;
export type LimitStandard = AirQualityLimits['standards'][number];
export type LimitValue = LimitStandard['limits'][number];

/** Validates the file; every problem (shape, unknown quantity, wrong unit, count on an annual mean) in one error. */
export function parseAirQualityLimits(raw: unknown, source: string, cat: Catalogue = catalogue): AirQualityLimits {
  const result = AirQualityLimitsSchema.safeParse(raw);
  const problems = result.success
    ? []
    : result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
  if (result.success) {
    result.data.standards.forEach((s, i) => {
      s.limits.forEach((l, j) => {
        const at = `standards.${i}.limits.${j}`;
        const q = cat.get(l.quantity);
        if (!q || q.name !== l.quantity) problems.push(`${at}.quantity: '${l.quantity}' is not a catalogue quantity`);
        else if (q.unit !== l.unit) problems.push(`${at}.unit: '${l.unit}' is not ${q.name}'s unit '${q.unit}'`);
        if ((l.period === 'year') !== (l.maxExceedances === undefined)) {
          problems.push(`${at}.maxExceedances: required for hourly and daily limits, not allowed for annual means`);
        }
      });
    });
  }
  if (problems.length > 0) {
    throw new Error(`invalid air-quality limit values ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return result.data!;
}

export const AIR_QUALITY_LIMITS_URL = new URL('../catalogue/air-quality-limits.json', import.meta.url);

/** The platform's limit values, loaded and validated once at module load. */
export const airQualityLimits: AirQualityLimits = parseAirQualityLimits(
  JSON.parse(readFileSync(AIR_QUALITY_LIMITS_URL, 'utf8')),
  AIR_QUALITY_LIMITS_URL.pathname,
);

/** The catalogue quantities the limit values name, in file order. */
export const pollutants = (limits: AirQualityLimits): string[] => [
  ...new Set(limits.standards.flatMap((s) => s.limits.map((l) => l.quantity))),
];

/** Whether a standard's limit values apply to a calendar year. */
export const applies = (s: LimitStandard, year: number): boolean =>
  (s.firstYear === null || year >= s.firstYear) && (s.lastYear === null || year <= s.lastYear);
