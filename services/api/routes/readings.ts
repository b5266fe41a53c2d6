import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { SusError } from '../../common/errors.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { queryReadings } from '../readings-query.ts';
import { ProblemSchema, ReadingsPageSchema, ReadingsQuerySchema } from '../schemas.ts';
import { visibleDevice } from './devices.ts';

const DAY_MS = 24 * 3600 * 1000;

export const readingRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/readings',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary: 'Raw readings in time order, paged with a time cursor',
          querystring: ReadingsQuerySchema,
          response: { 200: ReadingsPageSchema, 400: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const budget = ctx.config.SUS_QUERY_MAX_POINTS;
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
        if (req.query.device !== undefined) await visibleDevice(ctx, req, req.query.device);
        return queryReadings(ctx.influx, ctx.catalogue, {
          device: req.query.device,
          quantity: req.query.quantity,
          department: actingDepartment(req),
          from,
          to,
          limit,
        });
      },
    );
  };
