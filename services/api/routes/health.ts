import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  influx: z.object({ ok: z.boolean() }),
  registry: z.object({ ok: z.boolean(), kind: z.string() }),
});

export const QuantitySchema = z
  .object({
    name: z.string(),
    unit: z.string(),
    description: z.string(),
    aliases: z.array(z.string()),
    range: z.tuple([z.number(), z.number()]),
  })
  .meta({ id: 'Quantity' });

export const healthRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/health',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['platform'],
          summary: 'Reachability of InfluxDB and the registry',
          response: { 200: HealthSchema, 503: HealthSchema },
        },
      },
      async (_req, reply) => {
        const [influxOk, registryOk] = await Promise.all([
          ctx.influx.ping(),
          ctx.registry.ping().then(
            () => true,
            () => false,
          ),
        ]);
        const ok = influxOk && registryOk;
        return reply.code(ok ? 200 : 503).send({
          status: ok ? 'ok' : 'degraded',
          influx: { ok: influxOk },
          registry: { ok: registryOk, kind: ctx.registry.kind },
        });
      },
    );

    // For load balancers and orchestrators: outside /v1, neither keyed nor rate-limited, no detail in the answer.
    app.get('/livez', { schema: { hide: true } }, async (_req, reply) => reply.type('text/plain').send('ok\n'));
    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      const ok = ctx.ready ? await ctx.ready().catch(() => false) : true;
      return reply
        .code(ok ? 200 : 503)
        .type('text/plain')
        .send(ok ? 'ready\n' : 'not ready\n');
    });

    app.get(
      '/v1/quantities',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['platform'],
          summary: 'The quantity catalogue',
          response: { 200: z.object({ quantities: z.array(QuantitySchema) }) },
        },
      },
      async () => ({
        quantities: ctx.catalogue.names().map((n) => {
          const q = ctx.catalogue.get(n)!;
          return {
            name: q.name,
            unit: q.unit,
            description: q.description,
            aliases: [...q.aliases],
            range: [q.range[0], q.range[1]] as [number, number],
          };
        }),
      }),
    );
  };
