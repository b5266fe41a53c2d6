import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { resolveRead } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { sendLatest } from '../latest.ts';
import { measurements } from '../readings-query.ts';
import { LatestDeviceSchema, LatestQuerySchema, ProblemSchema } from '../schemas.ts';

export const latestRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/latest',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary: 'Latest values by device, department, quantity, district or bounding box (JSON, CSV or GeoJSON)',
          description:
            'Accept: application/geo+json (or ?format=geojson) returns a FeatureCollection of points for maps; Accept: text/csv a table. ' +
            'Read from the latest-value store ingest keeps; every answer has a weak ETag, and If-None-Match with it answers 304.',
          querystring: LatestQuerySchema,
          response: {
            200: z.object({ devices: z.array(LatestDeviceSchema) }),
            400: ProblemSchema,
            403: ProblemSchema,
            404: ProblemSchema,
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const names = q.quantity?.length ? q.quantity.flatMap((n) => measurements(deps.catalogue, n)) : undefined;
        const scope = await resolveRead(deps, req, {
          department: q.department,
          device: q.device,
          district: q.district,
          quantities: names,
        });
        return sendLatest(deps, req, reply, names ?? scope.grant?.quantities ?? deps.catalogue.names(), scope, q);
      },
    );
  };
