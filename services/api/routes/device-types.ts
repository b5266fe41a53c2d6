import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Timestamp } from '../../common/api-contract.ts';
import { SusError } from '../../common/errors.ts';
import { DeviceTypeId, JsonObject, name, QuantityName, text } from '../../common/grammar.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';

export const DeviceTypeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    quantities: z.array(z.string()),
    expectedIntervalS: z.number().int(),
    profile: z.record(z.string(), z.unknown()),
    createdAt: Timestamp,
  })
  .meta({ id: 'DeviceType' });

export const NewDeviceTypeSchema = z.object({
  id: DeviceTypeId,
  name: name(),
  description: text().default(''),
  quantities: z.array(QuantityName).max(64).default([]),
  expectedIntervalS: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(300),
  profile: JsonObject.default({}),
});

export const deviceTypeRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/device-types',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'Device types and their profiles (shared by all departments)',
          response: { 200: z.object({ deviceTypes: z.array(DeviceTypeSchema) }) },
        },
      },
      async () => ({ deviceTypes: await deps.types.list() }),
    );

    app.get(
      '/v1/device-types/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'One device type',
          params: z.object({ id: DeviceTypeId }),
          response: { 200: DeviceTypeSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const t = await deps.types.get(req.params.id);
        if (!t)
          throw new SusError('SUS_ERR_DEVICE_TYPE_NOT_FOUND', `device type '${req.params.id}' does not exist`, 404);
        return t;
      },
    );

    app.post(
      '/v1/device-types',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Define a device type: quantities, expected reporting interval, profile',
          body: NewDeviceTypeSchema,
          response: { 201: DeviceTypeSchema, 400: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        const unknown = req.body.quantities.filter((q) => !deps.catalogue.get(q));
        if (unknown.length)
          throw new SusError('SUS_ERR_UNKNOWN_QUANTITY', `not in the catalogue: ${unknown.join(', ')}`, 400, {
            field: 'quantities',
          });
        return reply.code(201).send(await deps.types.create(req.body));
      },
    );
  };
