import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DeviceId } from '../../common/grammar.ts';
import { FORMATS, type Format, type Uplink } from '../../common/uplink.ts';
import type { DeadLetterReason } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { problem } from '../problem.ts';
import { ProblemSchema } from '../schemas.ts';

export interface IngestOutcome {
  accepted: number;
  rejected: DeadLetterReason[];
  deadLetterId?: number;
}

/** What the API needs of the in-process ingest pipeline (the Ingestor provides it). */
export interface IngestPort {
  handle(u: Uplink, opts?: { format?: Format; department?: string; replay?: boolean }): Promise<IngestOutcome>;
  /** Re-reads device profiles so a replay after a profile fix uses the fixed profile. */
  reloadProfiles(): void;
}

export const IngestOutcomeSchema = z
  .object({
    accepted: z.number().int().describe('readings stored'),
    rejected: z.array(z.object({ code: z.string(), message: z.string(), field: z.string().optional() })),
    deadLetterId: z.number().int().nullable().describe('dead-letter entry holding the rejected parts, if any'),
  })
  .meta({ id: 'IngestOutcome' });

export function requireIngest(ctx: ApiContext): IngestPort {
  if (!ctx.ingest) {
    throw new SusError('SUS_ERR_INGEST_UNAVAILABLE', 'this API process does not host ingest; run `sus run`', 503);
  }
  return ctx.ingest;
}

const outcome = (r: IngestOutcome) => ({
  accepted: r.accepted,
  rejected: r.rejected,
  deadLetterId: r.deadLetterId ?? null,
});

/**
 * HTTP push for webhook integrations (The Things Stack, ChirpStack) and sensor.community-style firmware. The key
 * needs the `write` scope ("integration key"); a department key may only push data of its own department's devices.
 */
export const ingestHttpRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    // Raw bytes whatever the content type: the decoder of the format parses them (and CBOR is binary).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    const maxPayload = ctx.config.SUS_MAX_PAYLOAD_BYTES;
    app.post(
      '/v1/ingest/:format',
      {
        config: { scope: 'write' },
        // What MQTT takes, no more and no less: the decoders are held to linear time up to this size, and a payload
        // above it was read whole (up to the API's 1 MiB) only to be dead-lettered as too large.
        bodyLimit: maxPayload,
        preParsing: async (req) => {
          const announced = Number(req.headers['content-length']);
          if (announced > maxPayload)
            throw new SusError(
              'SUS_ERR_PAYLOAD_TOO_LARGE',
              `the payload has ${announced} bytes; SUS_MAX_PAYLOAD_BYTES allows ${maxPayload}`,
              413,
              { limit: maxPayload },
            );
        },
        schema: {
          tags: ['ingest'],
          summary: 'Push one payload in the given format (webhooks: TTN, ChirpStack, sensor.community firmware)',
          description:
            'The payload is decoded, normalised and stored like an MQTT uplink (source tag `http`). Devices are ' +
            'named by the payload (TTN device_id, ChirpStack DevEUI in lower case, `esp8266-<chip id>`) or by ' +
            '`?device=` for canonical JSON and SenML, at most SUS_MAX_PAYLOAD_BYTES (413 beyond, nothing filed). ' +
            'Rejected parts go to the dead-letter store. 200: at least one ' +
            'reading stored; 422: nothing stored, a problem (SUS_ERR_INGEST_REJECTED) that carries the outcome ' +
            '(`accepted`, `rejected`, `deadLetterId`) as extension members. A department key gets the same 422 for a ' +
            'device of another department as for an unknown one (filed under no device, so the other department never sees it).',
          params: z.object({ format: z.enum(FORMATS) }),
          querystring: z.object({ device: DeviceId.optional() }),
          response: {
            200: IngestOutcomeSchema,
            403: ProblemSchema,
            413: ProblemSchema,
            422: ProblemSchema,
            503: ProblemSchema,
          },
        },
      },
      async (req, reply) => {
        const ingest = requireIngest(ctx);
        const { format } = req.params;
        const payload = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const u: Uplink = {
          device: req.query.device ?? '',
          topic: `/v1/ingest/${format}`,
          channel: format === 'canonical' ? 'up' : `up/${format}`,
          payload,
          receivedAt: Date.now(),
          source: 'http',
        };
        const department = actingDepartment(req);
        const r = await ingest.handle(u, department === undefined ? { format } : { format, department });
        if (r.accepted > 0 || r.rejected.length === 0) return reply.code(200).send(outcome(r));
        // An error like every other: a problem body, with the outcome as its extension members.
        const codes = [...new Set(r.rejected.map((x) => x.code))].join(', ');
        return reply
          .code(422)
          .type('application/problem+json')
          .send(problem(422, 'SUS_ERR_INGEST_REJECTED', `nothing was stored (${codes})`, outcome(r)));
      },
    );
  };
