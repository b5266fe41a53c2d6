import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, DeviceId, QuantityName } from '../../common/grammar.ts';
import type { AlertNotice } from '../../common/rules.ts';
import { type Grant, grantCovers, type RegistryEvent } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import type { LiveEvent } from '../live-hub.ts';
import { ProblemSchema } from '../schemas.ts';

const HEARTBEAT_MS = 15_000;
const GRANT_REFRESH_MS = 10_000;

const StreamQuerySchema = z.object({
  quantity: QuantityName.optional(),
  device: DeviceId.optional(),
  department: DepartmentId.optional(),
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

/** Refuses a stream beyond SUS_STREAM_MAX_PER_KEY for its key or SUS_STREAM_MAX_CONNECTIONS in total. */
function checkStreamLimits(open: number, total: number, maxPerKey: number, maxTotal: number): void {
  if (open >= maxPerKey)
    throw new SusError(
      'SUS_ERR_STREAM_LIMIT',
      `this key holds ${open} live streams already, the most one key may (SUS_STREAM_MAX_PER_KEY): close one first`,
      429,
      { limit: maxPerKey },
    );
  if (total >= maxTotal)
    throw new SusError(
      'SUS_ERR_STREAM_LIMIT',
      `this API process holds ${total} live streams, its most (SUS_STREAM_MAX_CONNECTIONS): try again later`,
      429,
      { limit: maxTotal },
    );
}

export const streamRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    // Open streams per key id (entries leave at zero: bounded by the open streams) and in total.
    const perKey = new Map<string, number>();
    let total = 0;
    const { SUS_STREAM_MAX_PER_KEY: maxPerKey, SUS_STREAM_MAX_CONNECTIONS: maxTotal } = deps.config;
    // Open streams that re-read their grants when one is made or revoked: one registry listener for all of them.
    const grantWatchers = new Set<() => void>();
    const onChange = (e: RegistryEvent) => {
      if (e.type === 'grant-changed') for (const reread of grantWatchers) reread();
    };
    deps.registry.on('change', onChange);
    app.addHook('onClose', async () => {
      deps.registry.off('change', onChange);
    });

    app.get(
      '/v1/stream',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['readings'],
          summary:
            'Live readings (event: reading) and alert state changes (event: alert) as Server-Sent Events, honouring access rights',
          description:
            'Each event carries an id; reconnect with Last-Event-ID to receive what was missed while it is still buffered (SUS_STREAM_REPLAY readings). An `event: gap` says some were no longer buffered. A client that stops reading is disconnected once it falls that far behind. At most SUS_STREAM_MAX_PER_KEY streams per key and SUS_STREAM_MAX_CONNECTIONS per process (429 beyond). Needs in-process ingest (`sus run`) or, with REDIS_URL, broker nodes feeding the cluster stream (ids are the same on every API node).',
          querystring: StreamQuerySchema,
          response: { 400: ProblemSchema, 429: ProblemSchema, 503: ProblemSchema },
        },
      },
      async (req, reply) => {
        const hub = deps.hub;
        if (!hub)
          throw new SusError(
            'SUS_ERR_STREAM_UNAVAILABLE',
            'the live stream needs ingest in the same process or REDIS_URL (cluster mode): run `sus run`, or set REDIS_URL on the broker and API nodes (this is `sus api` alone)',
            503,
          );
        const q = req.query;
        const own = actingDepartment(req);
        const keyId = req.principal?.id ?? '';
        // Before any work, and again (with the reservation) after the grants are read.
        checkStreamLimits(perKey.get(keyId) ?? 0, total, maxPerKey, maxTotal);
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

        const mine = perKey.get(keyId) ?? 0;
        checkStreamLimits(mine, total, maxPerKey, maxTotal);
        perKey.set(keyId, mine + 1);
        total++;

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write('retry: 2000\n: connected\n\n');
        // Runs in the hub's own turn of the event loop, never on ingest's acknowledgement path.
        const send = (e: LiveEvent): boolean | undefined => {
          const access = visible(e);
          if (!access) return undefined;
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
          // false once the socket buffers more than its high-water mark: the hub pauses this stream until 'drain'.
          return res.write(`id: ${e.id}\nevent: reading\ndata: ${JSON.stringify(data)}\n\n`);
        };
        const subscription = hub.subscribe(send, {
          ...(lastId === undefined
            ? {}
            : {
                after: lastId,
                onGap: () => res.write('event: gap\ndata: {"reason":"some readings were no longer buffered"}\n\n'),
              }),
          // Fell a whole replay buffer behind without reading: dropped, so it holds nothing.
          onDropped: () => res.destroy(),
        });
        res.on('drain', () => subscription.resume());
        // Alerts of the key's department's rules (every department's for platform-wide keys); rare, so unbuffered.
        const onAlert = (n: AlertNotice) => {
          if (own !== undefined && n.department !== own) return;
          if (q.device !== undefined && n.device !== q.device) return;
          if (q.department !== undefined && n.department !== q.department) return;
          if (q.quantity !== undefined && n.quantity !== q.quantity) return;
          res.write(`event: alert\ndata: ${JSON.stringify(n)}\n\n`);
        };
        deps.alerts?.on('alert', onAlert);
        const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
        const reread = () => {
          if (own === undefined) return;
          deps.grants.activeTo(own).then(
            (g) => {
              grants = g;
            },
            (err: unknown) => req.log.warn({ err }, 'could not refresh the grants of a stream'),
          );
        };
        // At once when a grant is made or revoked (on any node: the registry relays it), and on a timer for expiry.
        grantWatchers.add(reread);
        const refresh = setInterval(reread, GRANT_REFRESH_MS);
        res.on('close', () => {
          subscription.close();
          deps.alerts?.off('alert', onAlert);
          clearInterval(heartbeat);
          clearInterval(refresh);
          grantWatchers.delete(reread);
          total--;
          const left = (perKey.get(keyId) ?? 1) - 1;
          if (left > 0) perKey.set(keyId, left);
          else perKey.delete(keyId);
        });
      },
    );
  };
