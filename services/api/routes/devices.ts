import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { deviceTopic } from '../../common/topics.ts';
import type { Device } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { queryLatest } from '../readings-query.ts';
import { CreatedDeviceSchema, DeviceSchema, LatestSchema, NewDeviceSchema, ProblemSchema } from '../schemas.ts';

const IdParams = z.object({ id: z.string().max(64) });

/** A device of another department is reported as absent, not forbidden: its existence is not disclosed. */
export async function visibleDevice(ctx: ApiContext, req: FastifyRequest, id: string): Promise<Device> {
  const device = await ctx.registry.getDevice(id);
  const dept = actingDepartment(req);
  if (!device || (dept !== undefined && device.department !== dept)) {
    throw new SusError('SUS_ERR_DEVICE_NOT_FOUND', `device '${id}' does not exist`, 404, { device: id });
  }
  return device;
}

export const deviceRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/devices',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'Devices visible to the key',
          querystring: z.object({ department: z.string().max(32).optional() }),
          response: { 200: z.object({ devices: z.array(DeviceSchema) }) },
        },
      },
      async (req) => {
        const own = actingDepartment(req);
        const department = own ?? req.query.department;
        if (own !== undefined && req.query.department !== undefined && req.query.department !== own)
          return { devices: [] };
        return { devices: await ctx.registry.listDevices({ department }) };
      },
    );

    app.post(
      '/v1/devices',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Register a device; the response carries its MQTT password, once',
          body: NewDeviceSchema,
          response: { 201: CreatedDeviceSchema, 400: ProblemSchema, 403: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        const own = actingDepartment(req);
        const department = req.body.department ?? own;
        if (department === undefined) {
          throw new SusError('SUS_ERR_VALIDATION', 'body.department is required for a platform-wide key', 400, {
            field: 'department',
          });
        }
        if (own !== undefined && department !== own) {
          throw new SusError('SUS_ERR_FORBIDDEN', `this key may only register devices of department '${own}'`, 403, {
            field: 'department',
          });
        }
        const { device, secret } = await ctx.registry.createDevice({ ...req.body, department });
        return reply.code(201).send({
          device,
          credentials: {
            username: device.id,
            password: secret,
            clientId: device.id,
            topics: {
              up: deviceTopic.up(device.id),
              status: deviceTopic.status(device.id),
              down: deviceTopic.down(device.id, '#'),
              ack: deviceTopic.ack(device.id),
            },
          },
        });
      },
    );

    app.get(
      '/v1/devices/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'One device',
          params: IdParams,
          response: { 200: DeviceSchema, 404: ProblemSchema },
        },
      },
      async (req) => visibleDevice(ctx, req, req.params.id),
    );

    app.get(
      '/v1/devices/:id/latest',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices', 'readings'],
          summary: 'Last value, unit and time of every quantity the device reported',
          params: IdParams,
          response: { 200: LatestSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(ctx, req, req.params.id);
        return { device: device.id, values: await queryLatest(ctx.influx, ctx.catalogue, device.id) };
      },
    );
  };
