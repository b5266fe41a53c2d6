import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { type Grant, grantCovers } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import type { LiveEvent } from '../live-hub.ts';
import { ProblemSchema } from '../schemas.ts';

const HEARTBEAT_MS = 15_000;
const GRANT_REFRESH_MS = 10_000;
// A client that stops reading is dropped instead of buffering without bound.
const MAX_BUFFERED_BYTES = 1024 * 1024;

const StreamQuerySchema = z.object({
  quantity: z.string().max(64).optional(),
  device: z.string().max(64).optional(),
  department: z.string().max(32).optional(),
  lastEventId: z.coerce.number().int().nonnegative().optional().describe('alternative to the Last-Event-ID header'),
});

/** The active grant that lets the reader see this live reading, if any (raw data: grants with a floor do not). */
function grantFor(grants: Grant[], e: LiveEvent): Grant | undefined {
  const r = e.reading;
  // Ingest tags a device without a district with ''.
  const slice = {
    quantities: [r.quantity],
    deviceType: e.tags.device_type,
    district: e.tags.district === '' ? null : e.tags.district,
    time: r.time,
    raw: true,
  };
  return grants.find((g) => g.owner === e.tags.department && grantCovers(g, slice));
}

export const streamRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/stream',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary: 'Live readings as Server-Sent Events (event: reading), honouring access rights',
          description:
            'Each event carries an id; reconnect with Last-Event-ID to receive what was missed while it is still buffered (SUS_STREAM_REPLAY readings). An `event: gap` says some were no longer buffered. Needs in-process ingest (`sus run`).',
          querystring: StreamQuerySchema,
          response: { 400: ProblemSchema, 503: ProblemSchema },
        },
      },
      async (req, reply) => {
        const hub = deps.hub;
        if (!hub)
          throw new SusError(
            'SUS_ERR_STREAM_UNAVAILABLE',
            'the live stream needs ingest in the same process: run `sus run` (this is `sus api` alone)',
            503,
          );
        const q = req.query;
        const own = actingDepartment(req);
        let grants = own === undefined ? [] : await deps.grants.activeTo(own);
        const audited = new Set<string>();
        const visible = (e: LiveEvent): Grant | true | undefined => {
          if (q.quantity !== undefined && e.reading.quantity !== q.quantity) return undefined;
          if (q.device !== undefined && e.reading.device !== q.device) return undefined;
          if (q.department !== undefined && e.tags.department !== q.department) return undefined;
          if (own === undefined || e.tags.department === own) return true;
          return grantFor(grants, e);
        };
        const header = req.headers['last-event-id'];
        const lastId =
          q.lastEventId ?? (typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined);

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write('retry: 2000\n: connected\n\n');
        const send = (e: LiveEvent) => {
          const access = visible(e);
          if (!access) return;
          if (access !== true && !audited.has(access.id)) {
            // One audit entry per stream and grant: a record per reading would flood the owner's log.
            audited.add(access.id);
            void deps.audit
              .record({
                grantId: access.id,
                owner: access.owner,
                reader: own ?? null,
                keyId: req.principal?.id ?? null,
                route: '/v1/stream',
                query: { ...q },
              })
              .catch((err: unknown) => req.log.error({ err }, 'could not write the audit entry of a stream read'));
          }
          const r = e.reading;
          const data = {
            device: r.device,
            quantity: r.quantity,
            value: r.value,
            unit: r.unit,
            time: new Date(r.time).toISOString(),
            department: e.tags.department,
            district: e.tags.district,
            deviceType: e.tags.device_type,
          };
          res.write(`id: ${e.id}\nevent: reading\ndata: ${JSON.stringify(data)}\n\n`);
          if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
        };
        if (lastId !== undefined) {
          const missed = hub.since(lastId);
          if (!missed.complete) res.write('event: gap\ndata: {"reason":"some readings were no longer buffered"}\n\n');
          for (const e of missed.events) send(e);
        }
        const unsubscribe = hub.subscribe(send);
        const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
        const refresh = setInterval(() => {
          if (own === undefined) return;
          deps.grants.activeTo(own).then(
            (g) => {
              grants = g;
            },
            (err: unknown) => req.log.warn({ err }, 'could not refresh the grants of a stream'),
          );
        }, GRANT_REFRESH_MS);
        res.on('close', () => {
          unsubscribe();
          clearInterval(heartbeat);
          clearInterval(refresh);
        });
      },
    );
  };
