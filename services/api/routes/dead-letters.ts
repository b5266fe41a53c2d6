import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actingDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { DeadLetterSchema, DeadLettersQuerySchema, ProblemSchema } from '../schemas.ts';
import { visibleDevice } from './devices.ts';

export const deadLetterRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/dead-letters',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['ingest'],
          summary: 'Messages ingest could not use, newest first, with their reasons',
          querystring: DeadLettersQuerySchema,
          response: {
            200: z.object({ deadLetters: z.array(DeadLetterSchema), next: z.number().int().nullable() }),
            404: ProblemSchema,
          },
        },
      },
      async (req) => {
        const dept = actingDepartment(req);
        const { device, reason, before, limit } = req.query;
        if (device !== undefined) await visibleDevice(ctx, req, device);
        let entries = await ctx.registry.listDeadLetters({ device, reason, before, limit });
        if (dept !== undefined && device === undefined) {
          // Department keys see their own devices' entries only; unattributed ones are for operators.
          const own = new Set(await ctx.registry.deviceIdsOf(dept));
          entries = entries.filter((e) => e.device !== null && own.has(e.device));
        }
        const next = entries.length === limit ? entries[entries.length - 1]!.id : null;
        return { deadLetters: entries, next };
      },
    );
  };
