import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context.ts';

export const metricsRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    // Outside /v1 and without a key, as Prometheus scrapers expect; expose it only on the operators' network.
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      return reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
    });
  };
