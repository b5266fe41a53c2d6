import { catalogue } from '../catalogue.ts';
import { type InfluxQuery, influxIdent, influxString } from '../influx.ts';
import { HOUR_MS, ROLLUP } from '../rollups.ts';
import {
  type AirQualityLimits,
  airQualityLimits,
  applies,
  type LimitPeriod,
  type LimitStandard,
  pollutants,
} from './limits.ts';

/**
 * The air-quality report: per station and pollutant, the annual mean, the hours and days above the EU limit values,
 * the data capture and a verdict per limit — computed from the hourly rollups (services/common/rollups.ts) with the
 * validity rules of the limit-values file: an hour counts when it holds enough of its samples, a day when it holds
 * enough valid hours.
 */

/** A registered device as the report sees it. */
export interface ReportStation {
  device: string;
  name: string;
  department: string;
  district: string | null;
  type: string;
  /** The reporting interval of its type (s): an hour holds 3600 / intervalS samples. */
  intervalS: number;
  /** Quantities its type reports; null when the type is not registered (then pollutants with data are listed). */
  quantities: readonly string[] | null;
}

/**
 * The report's view of registered devices: each with its type's interval and quantities (a type the registry does
 * not know: `defaultIntervalS`, and pollutants are listed when they have data).
 */
export function reportStations(
  devices: ReadonlyArray<{ id: string; name: string; department: string; district: string | null; type: string }>,
  types: ReadonlyArray<{ id: string; expectedIntervalS: number; quantities: readonly string[] }>,
  defaultIntervalS: number,
): ReportStation[] {
  const byId = new Map(types.map((t) => [t.id, t]));
  return devices.map((d) => ({
    device: d.id,
    name: d.name,
    department: d.department,
    district: d.district,
    type: d.type,
    intervalS: byId.get(d.type)?.expectedIntervalS ?? defaultIntervalS,
    quantities: byId.get(d.type)?.quantities ?? null,
  }));
}

export type Verdict = 'met' | 'exceeded' | 'insufficient data';

export interface LimitResult {
  standard: string;
  /** Whether the standard's limit values apply to the report's year. */
  applies: boolean;
  period: LimitPeriod;
  value: number;
  maxExceedances: number | null;
  /** Valid hours or days with a mean above the value; null for an annual mean. */
  exceedances: number | null;
  verdict: Verdict;
  source: string;
}

export interface PollutantReport {
  quantity: string;
  unit: string;
  /** Samples an hour holds at the station's interval, and how many of them make a valid hourly value. */
  samplesPerHour: number;
  minSamplesPerHour: number;
  hoursInYear: number;
  validHours: number;
  /** validHours / hoursInYear. */
  dataCapture: number;
  validDays: number;
  /** Mean of the valid hourly values; null without any. */
  annualMean: number | null;
  limits: LimitResult[];
}

export interface StationReport {
  device: string;
  name: string;
  department: string;
  district: string | null;
  pollutants: PollutantReport[];
}

export interface AirQualityReport {
  year: number;
  notice: string;
  /** The year is over and the hourly rollups reach its end. */
  complete: boolean;
  /** How far the hourly rollups reach (null: not computed at all). */
  rollupsUntil: string | null;
  validity: { hourMinSampleShare: number; dayMinHours: number; source: string };
  standards: Array<{
    id: string;
    title: string;
    url: string;
    applies: boolean;
    minDataCapture: number;
    source: string;
  }>;
  stations: StationReport[];
}

/** What the hourly rollups say about one station and pollutant (the input of {@link evaluate}). */
export interface PollutantStats {
  validHours: number;
  annualMean: number | null;
  /** Valid hours above each hourly limit value. */
  hoursAbove: ReadonlyMap<number, number>;
  /** Per day with any valid hour: how many and their mean. */
  days: ReadonlyArray<{ hours: number; mean: number }>;
}

/** Valid samples an hour needs at `intervalS`: at least one, else the share of those the interval gives. */
export function minSamplesPerHour(intervalS: number, share: number): number {
  // The small epsilon keeps 0.75 × 4 = 3 (not 3.0000000000000004) from asking for a fourth sample.
  return Math.max(1, Math.ceil(share * (3600 / intervalS) - 1e-9));
}

const yearStart = (year: number) => Date.UTC(year, 0, 1);

/** The verdicts of one station and pollutant: pure, so the rules are tested on their own. */
export function evaluate(
  year: number,
  quantity: string,
  stats: PollutantStats,
  hoursInYear: number,
  limits: AirQualityLimits = airQualityLimits,
): Pick<PollutantReport, 'validHours' | 'dataCapture' | 'validDays' | 'annualMean' | 'limits'> {
  const validDays = stats.days.filter((d) => d.hours >= limits.validity.dayMinHours);
  const dataCapture = stats.validHours / hoursInYear;
  const results: LimitResult[] = [];
  for (const s of limits.standards) {
    const enough = dataCapture >= s.minDataCapture;
    for (const l of s.limits) {
      if (l.quantity !== quantity) continue;
      let exceedances: number | null = null;
      let verdict: Verdict;
      if (l.period === 'year') {
        verdict =
          stats.annualMean === null || !enough ? 'insufficient data' : stats.annualMean > l.value ? 'exceeded' : 'met';
      } else {
        exceedances =
          l.period === 'hour' ? (stats.hoursAbove.get(l.value) ?? 0) : validDays.filter((d) => d.mean > l.value).length;
        // More exceedances than allowed cannot become fewer with more data: a verdict at any capture.
        verdict = exceedances > l.maxExceedances! ? 'exceeded' : enough ? 'met' : 'insufficient data';
      }
      results.push({
        standard: s.id,
        applies: applies(s, year),
        period: l.period,
        value: l.value,
        maxExceedances: l.maxExceedances ?? null,
        exceedances,
        verdict,
        source: l.source,
      });
    }
  }
  return {
    validHours: stats.validHours,
    dataCapture,
    validDays: validDays.length,
    annualMean: stats.annualMean,
    limits: results,
  };
}

export interface ReportOptions {
  year: number;
  stations: readonly ReportStation[];
  /** InfluxQL tag conditions the read is limited to (department, districts …), joined with AND. */
  conditions?: readonly string[];
  /** A narrower time window than the year (a grant's); hours outside it count as missing. */
  from?: number;
  to?: number;
  /** Pollutants asked for (default: every pollutant of the limit values). */
  quantities?: readonly string[];
  /** How far the hourly rollups reach. */
  rollupsUntil?: number;
  now?: number;
  limits?: AirQualityLimits;
}

type Meta =
  | { kind: 'any'; quantity: string }
  | { kind: 'hours'; quantity: string }
  | { kind: 'above'; quantity: string; value: number }
  | { kind: 'days'; quantity: string };

/** Computes the report of a calendar year from the hourly rollups: a few statements per device type and pollutant. */
export async function airQualityReport(influx: InfluxQuery, o: ReportOptions): Promise<AirQualityReport> {
  const limits = o.limits ?? airQualityLimits;
  const y0 = yearStart(o.year);
  const y1 = yearStart(o.year + 1);
  const from = Math.max(y0, o.from ?? y0);
  const to = Math.min(y1, o.to ?? y1);
  const hoursInYear = (y1 - y0) / HOUR_MS;
  const wanted = pollutants(limits).filter((q) => !o.quantities || o.quantities.includes(q));
  const share = limits.validity.hourMinSampleShare;

  // Devices of a type share its interval, so one condition on device_type selects the valid hours of all of them.
  const byType = new Map<string, ReportStation[]>();
  for (const s of o.stations) byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
  const statements: string[] = [];
  const meta: Array<Meta & { type: string }> = [];
  if (from < to) {
    for (const [type, group] of byType) {
      const min = minSamplesPerHour(group[0]!.intervalS, share);
      const any = [
        ...(o.conditions ?? []),
        `${influxIdent('device_type')} = ${influxString(type)}`,
        `time >= ${influxString(new Date(from).toISOString())}`,
        `time < ${influxString(new Date(to).toISOString())}`,
      ].join(' AND ');
      const where = `${any} AND "count" >= ${min}`;
      for (const quantity of wanted) {
        const src = `${influxIdent(ROLLUP['1h'].policy)}.${influxIdent(quantity)}`;
        // Stations with readings but no valid hour are listed too (capture 0), not left out.
        statements.push(`SELECT count("count") AS "n" FROM ${src} WHERE ${any} GROUP BY "device"`);
        meta.push({ kind: 'any', quantity, type });
        statements.push(
          `SELECT count("mean") AS "hours", mean("mean") AS "mean" FROM ${src} WHERE ${where} GROUP BY "device"`,
        );
        meta.push({ kind: 'hours', quantity, type });
        const hourly = new Set(
          limits.standards.flatMap((s) => s.limits.filter((l) => l.quantity === quantity && l.period === 'hour')),
        );
        for (const value of new Set([...hourly].map((l) => l.value))) {
          statements.push(
            `SELECT count("mean") AS "n" FROM ${src} WHERE ${where} AND "mean" > ${value} GROUP BY "device"`,
          );
          meta.push({ kind: 'above', quantity, value, type });
        }
        statements.push(
          `SELECT count("mean") AS "hours", mean("mean") AS "mean" FROM ${src} WHERE ${where} GROUP BY time(1d), "device" fill(none)`,
        );
        meta.push({ kind: 'days', quantity, type });
      }
    }
  }
  const results = statements.length > 0 ? await influx.query(statements.join('; '), 'POST') : [];

  // device → quantity → stats, filled from the answers.
  const stats = new Map<
    string,
    Map<
      string,
      {
        validHours: number;
        annualMean: number | null;
        hoursAbove: Map<number, number>;
        days: Array<{ hours: number; mean: number }>;
      }
    >
  >();
  const statsOf = (device: string, quantity: string) => {
    const perDevice = stats.get(device) ?? new Map();
    stats.set(device, perDevice);
    let s = perDevice.get(quantity);
    if (!s) {
      s = { validHours: 0, annualMean: null, hoursAbove: new Map<number, number>(), days: [] };
      perDevice.set(quantity, s);
    }
    return s;
  };
  results.forEach((series, i) => {
    const m = meta[i]!;
    for (const s of series) {
      const device = s.tags?.device;
      if (!device) continue;
      const col = (c: string) => s.columns.indexOf(c);
      const st = statsOf(device, m.quantity);
      // 'any' needs no row: statsOf() has noted that the station has readings of the pollutant.
      if (m.kind === 'any') continue;
      for (const row of s.values) {
        if (m.kind === 'hours') {
          st.validHours = Number(row[col('hours')] ?? 0);
          st.annualMean = typeof row[col('mean')] === 'number' ? (row[col('mean')] as number) : null;
        } else if (m.kind === 'above') st.hoursAbove.set(m.value, Number(row[col('n')] ?? 0));
        else if (typeof row[col('mean')] === 'number') {
          st.days.push({ hours: Number(row[col('hours')]), mean: row[col('mean')] as number });
        }
      }
    }
  });

  const year = o.year;
  const now = o.now ?? Date.now();
  const stations: StationReport[] = [];
  for (const station of [...o.stations].sort((a, b) => a.device.localeCompare(b.device))) {
    const reports: PollutantReport[] = [];
    for (const quantity of wanted) {
      const st = stats.get(station.device)?.get(quantity);
      const reported = station.quantities ? station.quantities.includes(quantity) : false;
      if (!st && !reported) continue;
      const perHour = 3600 / station.intervalS;
      reports.push({
        quantity,
        unit: catalogue.get(quantity)?.unit ?? '',
        samplesPerHour: perHour,
        minSamplesPerHour: minSamplesPerHour(station.intervalS, share),
        hoursInYear,
        ...evaluate(
          year,
          quantity,
          st ?? { validHours: 0, annualMean: null, hoursAbove: new Map(), days: [] },
          hoursInYear,
          limits,
        ),
      });
    }
    if (reports.length === 0) continue;
    stations.push({
      device: station.device,
      name: station.name,
      department: station.department,
      district: station.district,
      pollutants: reports,
    });
  }
  return {
    year,
    notice: limits.notice,
    complete: now >= y1 && (o.rollupsUntil ?? 0) >= y1,
    rollupsUntil: o.rollupsUntil === undefined ? null : new Date(o.rollupsUntil).toISOString(),
    validity: limits.validity,
    standards: limits.standards.map((s: LimitStandard) => ({
      id: s.id,
      title: s.title,
      url: s.url,
      applies: applies(s, year),
      minDataCapture: s.minDataCapture,
      source: s.dataCaptureSource,
    })),
    stations,
  };
}
