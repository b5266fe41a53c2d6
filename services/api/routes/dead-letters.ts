import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { RowId, SourceName } from '../../common/grammar.ts';
import { parseDeviceTopic } from '../../common/topics.ts';
import { type Format, isFormat, type Uplink } from '../../common/uplink.ts';
import { DEAD_LETTER_STATUSES, type IngestDeadLetterFilter } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { DeadLetterSchema, DeadLettersQuerySchema, ProblemSchema } from '../schemas.ts';
import { visibleDevice } from './devices.ts';
import { IngestOutcomeSchema, requireIngest } from './ingest-http.ts';

export const DeadLetterEntrySchema = DeadLetterSchema.extend({
  format: z.string().nullable().describe('payload format ingest decoded it with; null when none applied'),
  status: z.enum(DEAD_LETTER_STATUSES),
  resolvedAt: z.string().nullable().describe('ISO 8601 time of the replay or discard'),
  replays: z.number().int(),
}).meta({ id: 'DeadLetterEntry' });

const ListQuerySchema = DeadLettersQuerySchema.extend({
  status: z.enum(DEAD_LETTER_STATUSES).optional().describe('default: every status'),
  source: SourceName.optional().describe('`mqtt`, `http`, `mqtt:<integration>`'),
  since: z.iso.datetime({ offset: true }).optional().describe('entries received at or after this time'),
});

const IdParams = z.object({ id: RowId });

const ReplayResultSchema = IngestOutcomeSchema.omit({ deadLetterId: true }).extend({
  id: z.number().int(),
  status: z.enum(DEAD_LETTER_STATUSES),
});

/**
 * Dead letters: list with filters, inspect, replay through the pipeline (after a profile or registry fix the
 * message gets in) and discard. Department keys see and act on their own devices' entries only; entries without a
 * device (undecodable payloads of unknown senders) are for platform-wide keys.
 */
export const deadLetterRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const store = ctx.registry.deadLetters;

    /** The entry, if this key may see it; otherwise the same 404 as a missing one (existence is not disclosed). */
    const visibleEntry = async (req: FastifyRequest, id: number) => {
      const entry = await store.getForReplay(id);
      const dept = actingDepartment(req);
      if (entry && dept !== undefined) {
        const device = entry.device === null ? undefined : await ctx.registry.getDevice(entry.device);
        if (device?.department !== dept) return undefined;
      }
      return entry;
    };
    const notFound = (id: number) =>
      new SusError('SUS_ERR_DEAD_LETTER_NOT_FOUND', `dead letter ${id} does not exist`, 404, { id });

    app.get(
      '/v1/dead-letters',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['ingest'],
          summary: 'Messages ingest could not use, newest first, with their reasons',
          querystring: ListQuerySchema,
          response: {
            200: z.object({ deadLetters: z.array(DeadLetterEntrySchema), next: z.number().int().nullable() }),
            404: ProblemSchema,
          },
        },
      },
      async (req) => {
        const dept = actingDepartment(req);
        const { device, reason, before, limit, status, source, since } = req.query;
        if (device !== undefined) await visibleDevice(ctx, req, device);
        const filter: IngestDeadLetterFilter = { device, reason, before, limit, status, source };
        if (since !== undefined) filter.since = new Date(since);
        // Department keys see their own devices' entries only, filtered in SQL so paging stays exact.
        if (dept !== undefined && device === undefined) filter.devices = await ctx.registry.deviceIdsOf(dept);
        const entries = await store.list(filter);
        const next = entries.length === limit ? entries[entries.length - 1]!.id : null;
        return { deadLetters: entries, next };
      },
    );

    app.get(
      '/v1/dead-letters/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['ingest'],
          summary: 'One dead letter with its raw payload, reasons and status',
          params: IdParams,
          response: { 200: DeadLetterEntrySchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const id = req.params.id;
        if (!(await visibleEntry(req, id))) throw notFound(id);
        const entry = await store.get(id);
        if (!entry) throw notFound(id);
        return entry;
      },
    );

    app.post(
      '/v1/dead-letters/:id/replay',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['ingest'],
          summary: 'Run a dead letter through the pipeline again (after a profile, catalogue or registry fix)',
          description:
            'Device profiles are re-read first. The message keeps its original receive time, so a replay stores ' +
            'the same points as a first success would have (replaying twice does not duplicate). When every value ' +
            'gets in, the entry becomes `replayed`; otherwise it stays `new` with the reasons of this attempt.',
          params: IdParams,
          response: { 200: ReplayResultSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema },
        },
      },
      async (req) => {
        const ingest = requireIngest(ctx);
        const id = req.params.id;
        const entry = await visibleEntry(req, id);
        if (!entry) throw notFound(id);
        if (entry.status !== 'new') {
          throw new SusError('SUS_ERR_DEAD_LETTER_RESOLVED', `dead letter ${id} is already ${entry.status}`, 409, {
            id,
          });
        }
        if (entry.truncated) {
          throw new SusError(
            'SUS_ERR_DEAD_LETTER_TRUNCATED',
            `dead letter ${id} kept only part of its payload (SUS_DEAD_LETTER_RAW_BYTES) and cannot be replayed`,
            409,
            { id },
          );
        }
        const topic = entry.topic ?? '';
        const onDeviceTopic = parseDeviceTopic(topic);
        const u: Uplink = {
          device: onDeviceTopic?.device ?? entry.device ?? '',
          topic,
          channel: onDeviceTopic?.channel ?? 'up',
          payload: entry.payload,
          receivedAt: entry.receivedAt.getTime(),
          source: entry.source,
        };
        ingest.reloadProfiles();
        const dept = actingDepartment(req);
        const opts: { format?: Format; department?: string; replay: true } = { replay: true };
        if (isFormat(entry.format)) opts.format = entry.format;
        if (dept !== undefined) opts.department = dept;
        const r = await ingest.handle(u, opts);
        await store.recordReplay(id, r.rejected);
        const status = r.rejected.length === 0 ? ('replayed' as const) : ('new' as const);
        return { id, status, accepted: r.accepted, rejected: r.rejected };
      },
    );

    app.post(
      '/v1/dead-letters/:id/discard',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['ingest'],
          summary: 'Give up on a dead letter: it is kept for the record but leaves the `new` queue',
          params: IdParams,
          response: { 200: z.object({ id: z.number().int(), status: z.literal('discarded') }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const id = req.params.id;
        if (!(await visibleEntry(req, id)) || !(await store.discard(id))) throw notFound(id);
        return { id, status: 'discarded' as const };
      },
    );
  };
