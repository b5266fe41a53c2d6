import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { airQualityLimits, pollutants } from '../../common/air-quality/limits.ts';
import { type AirQualityReport, airQualityReport, reportStations } from '../../common/air-quality/report.ts';
import { devicesInScope, resolveRead } from '../access.ts';
import type { RollupCoverage } from '../aggregate-plan.ts';
import { sendCsv, wants } from '../csv.ts';
import type { ApiDeps } from '../deps.ts';
import { tagConditions } from '../readings-query.ts';
import { AirQualityReportQuerySchema, AirQualityReportSchema, ProblemSchema } from '../schemas.ts';

const CSV_COLUMNS = [
  'year',
  'device',
  'department',
  'district',
  'quantity',
  'unit',
  'standard',
  'applies',
  'period',
  'limit_value',
  'max_exceedances',
  'exceedances',
  'annual_mean',
  'valid_hours',
  'hours_in_year',
  'data_capture',
  'valid_days',
  'verdict',
  'measurement',
];

/** One CSV row per station, pollutant and limit; every row says the measurements are indicative. */
const csvRows = (r: AirQualityReport) =>
  r.stations.flatMap((s) =>
    s.pollutants.flatMap((p) =>
      p.limits.map((l) => ({
        year: r.year,
        device: s.device,
        department: s.department,
        district: s.district,
        quantity: p.quantity,
        unit: p.unit,
        standard: l.standard,
        applies: l.applies,
        period: l.period,
        limit_value: l.value,
        max_exceedances: l.maxExceedances,
        exceedances: l.exceedances,
        annual_mean: p.annualMean,
        valid_hours: p.validHours,
        hours_in_year: p.hoursInYear,
        data_capture: p.dataCapture,
        valid_days: p.validDays,
        verdict: l.verdict,
        measurement: 'indicative',
      })),
    ),
  );

/**
 * How far the hourly rollups the report reads are current: their reach, or the first hour late readings made stale
 * (the report reads rollups only, so until its recomputation it is not complete).
 */
function hourlyRollupsUntil(coverages: readonly RollupCoverage[]): number | undefined {
  let until: number | undefined;
  for (const c of coverages) {
    const reach = c.progress['1h']?.doneUntil;
    if (reach === undefined) return undefined;
    until = Math.min(until ?? reach, reach, c.staleHours[0] ?? reach);
  }
  return until;
}

/** Reports departments owe: the EU air-quality limit values (services/common/air-quality). */
export const reportRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/reports/air-quality',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['reports'],
          summary: 'EU air-quality limit values of a year per station and pollutant (JSON or CSV)',
          description:
            'Annual mean, hours and days above the limit values of Directive 2008/50/EC and of Directive (EU) 2024/2881 (from 2030), data capture and a verdict per limit, from the hourly rollups: an hour counts with at least 75 % of its samples, a day with at least 18 valid hours (services/common/catalogue/air-quality-limits.json). Low-cost sensors give indicative measurements, not an official assessment.',
          querystring: AirQualityReportQuerySchema,
          response: { 200: AirQualityReportSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const quantities = q.quantity ? [q.quantity] : pollutants(airQualityLimits);
        const scope = await resolveRead(deps, req, {
          department: q.department,
          device: q.device,
          district: q.district,
          quantities,
          // Hourly values: a grant whose floor is coarser than an hour does not cover the report.
          everyS: 3600,
          from: Date.UTC(q.year, 0, 1),
          to: Date.UTC(q.year + 1, 0, 1),
        });
        const [devices, types, coverages] = await Promise.all([
          devicesInScope(deps, scope),
          deps.types.list(),
          Promise.all(quantities.map((quantity) => deps.rollupCoverage(quantity))),
        ]);
        const report = await airQualityReport(deps.influx, {
          year: q.year,
          stations: reportStations(devices, types, deps.config.SUS_DEFAULT_INTERVAL_S),
          conditions: tagConditions(scope.filter),
          from: scope.from,
          to: scope.to,
          quantities,
          rollupsUntil: hourlyRollupsUntil(coverages),
        });
        if (wants(req, 'csv')) return sendCsv(reply, CSV_COLUMNS, csvRows(report));
        return report;
      },
    );
  };
