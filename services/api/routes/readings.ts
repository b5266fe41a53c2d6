import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { SusError } from '../../common/errors.ts';
import { resolveRead } from '../access.ts';
import { sendCsv, wants } from '../csv.ts';
import type { ApiDeps } from '../deps.ts';
import { measurements, queryReadings } from '../readings-query.ts';
import {
  AggregateQuerySchema,
  AggregateSchema,
  ProblemSchema,
  ReadingsPageSchema,
  ReadingsQuerySchema,
} from '../schemas.ts';
import { sendAggregate } from './aggregate.ts';

const DAY_MS = 24 * 3600 * 1000;

export const readingRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/readings',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary: 'Raw readings in time order, paged with a time cursor (JSON or CSV)',
          querystring: ReadingsQuerySchema,
          response: { 200: ReadingsPageSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        const budget = deps.config.SUS_QUERY_MAX_POINTS;
        const names = measurements(deps.catalogue, req.query.quantity);
        // InfluxDB sends at most limit + 2 × quantities points (see queryReadings), so the limit is the budget.
        const limit = req.query.limit ?? Math.min(1000, budget);
        if (limit > budget) {
          throw new SusError(
            'SUS_ERR_QUERY_BUDGET',
            `limit ${limit} exceeds the query budget of ${budget} points: ask for fewer and follow the 'next' cursor`,
            400,
            { field: 'limit', budget },
          );
        }
        const to = req.query.to ?? Date.now();
        const from = req.query.from ?? to - DAY_MS;
        if (from > to) throw new SusError('SUS_ERR_VALIDATION', '`from` is after `to`', 400, { field: 'from' });
        const scope = await resolveRead(deps, req, {
          department: req.query.department,
          device: req.query.device,
          quantities: req.query.quantity === undefined ? undefined : names,
          from,
          to,
        });
        const page = await queryReadings(deps.influx, deps.catalogue, {
          ...scope.filter,
          names,
          from: scope.from ?? from,
          to: scope.to ?? to,
          limit,
        });
        if (wants(req, 'csv')) return sendCsv(reply, ['time', 'device', 'quantity', 'value', 'unit'], page.readings);
        return page;
      },
    );

    app.get(
      '/v1/readings/aggregate',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary:
            'Windowed aggregates (mean, min, max, count, sum, median, p95), optionally per device, district or department',
          description:
            'Whole hours and days of count, min, max, mean and sum come from the hourly and daily rollups (`source` and the Sus-Source header say which), the rest from raw readings. The windows × groups returned must stay within SUS_QUERY_MAX_POINTS and the stored points InfluxDB reads within SUS_QUERY_MAX_SCAN; otherwise 400 SUS_ERR_QUERY_BUDGET says how to narrow the query.',
          querystring: AggregateQuerySchema,
          response: { 200: AggregateSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        const q = req.query;
        return sendAggregate(deps, req, reply, q, (r) =>
          resolveRead(deps, req, { ...r, department: q.department, device: q.device, district: q.district }),
        );
      },
    );
  };
