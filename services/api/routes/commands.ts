import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { CommandName, DeviceId, JsonObject } from '../../common/grammar.ts';
import { CommandSchema, DesiredConfigSchema } from '../../registry/index.ts';
import type { ApiContext } from '../context.ts';
import { ProblemSchema } from '../schemas.ts';
import { visibleDevice } from './devices.ts';

const IdParams = z.object({ id: DeviceId });
/** Downlinks travel to constrained devices over QoS 1: keep documents small. */
const MAX_DOCUMENT_BYTES = 16 * 1024;

const AckSchema = z.object({
  id: z.number().int(),
  device: z.string(),
  topic: z.string(),
  receivedAt: z.string(),
  command: z.number().int().nullable(),
  configVersion: z.number().int().nullable(),
  status: z.string().nullable(),
  payload: z.string(),
});
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });

function checkSize(doc: unknown, field: string): void {
  if (Buffer.byteLength(JSON.stringify(doc)) > MAX_DOCUMENT_BYTES) {
    throw new SusError('SUS_ERR_DOCUMENT_TOO_LARGE', `${field} exceeds ${MAX_DOCUMENT_BYTES} bytes`, 413, { field });
  }
}

/**
 * Downlink (layer 1 through the API): commands published QoS 1 to `…/down/command`, a versioned desired
 * configuration on `…/down/config` (delivered when an offline device reconnects), the devices' answers on `…/ack`.
 */
export const commandRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const store = ctx.registry.downlinks;

    app.post(
      '/v1/devices/:id/commands',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['downlink'],
          summary: 'Send a command to a device (QoS 1 on sus/v1/devices/{id}/down/command)',
          params: IdParams,
          body: z.object({ name: CommandName, args: JsonObject.default({}) }),
          response: { 202: CommandSchema, 404: ProblemSchema, 413: ProblemSchema, 503: ProblemSchema },
        },
      },
      async (req, reply) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        checkSize(req.body.args, 'args');
        if (!ctx.downlink) {
          throw new SusError(
            'SUS_ERR_DOWNLINK_UNAVAILABLE',
            'no broker in this process and no REDIS_URL: send commands through an API that runs next to the broker (sus run), or set REDIS_URL on the broker and API nodes',
            503,
            { device: device.id },
          );
        }
        const command = await store.addCommand({
          device: device.id,
          name: req.body.name,
          args: req.body.args,
          createdBy: req.principal?.id ?? null,
        });
        await ctx.downlink.publishCommand(command);
        return reply.code(202).send(command);
      },
    );

    app.get(
      '/v1/devices/:id/commands',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['downlink'],
          summary: 'Commands sent to the device, newest first, with their acknowledgement',
          params: IdParams,
          querystring: ListQuery,
          response: { 200: z.object({ commands: z.array(CommandSchema) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        return { commands: await store.listCommands(device.id, req.query.limit) };
      },
    );

    app.put(
      '/v1/devices/:id/config',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['downlink'],
          summary: 'Set the desired configuration (retained on sus/v1/devices/{id}/down/config; new version)',
          params: IdParams,
          body: z.object({ config: JsonObject }),
          response: { 200: DesiredConfigSchema, 404: ProblemSchema, 413: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        checkSize(req.body.config, 'config');
        const desired = await store.setDesiredConfig(device.id, req.body.config);
        // Without a broker here the document still reaches the device: brokers deliver it when the device connects.
        await ctx.downlink?.publishConfig(desired);
        return desired;
      },
    );

    app.get(
      '/v1/devices/:id/config',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['downlink'],
          summary: 'The desired configuration and the version the device acknowledged',
          params: IdParams,
          response: { 200: DesiredConfigSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        const desired = await store.getDesiredConfig(device.id);
        if (!desired) {
          throw new SusError('SUS_ERR_NO_DESIRED_CONFIG', `device '${device.id}' has no desired configuration`, 404, {
            device: device.id,
          });
        }
        return desired;
      },
    );

    app.get(
      '/v1/devices/:id/acks',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['downlink'],
          summary: "The device's answers on sus/v1/devices/{id}/ack, newest first",
          params: IdParams,
          querystring: ListQuery,
          response: { 200: z.object({ acks: z.array(AckSchema) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        return { acks: await store.listAcks(device.id, req.query.limit) };
      },
    );
  };
