import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, DeviceId } from '../../common/grammar.ts';
import { credentialsFor } from '../../common/provisioning.ts';
import type { Device } from '../../registry/index.ts';
import { actingDepartment, targetDepartment } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import { createDeviceAs } from '../device-ids.ts';
import { validateImport } from '../device-import.ts';
import { sendConditional } from '../etag.ts';
import { latestOf } from '../latest.ts';
import {
  CreatedDeviceSchema,
  CredentialsSchema,
  DevicePatchSchema,
  DeviceSchema,
  DeviceStatusSchema,
  ImportResultSchema,
  LatestSchema,
  NewDeviceSchema,
  ProblemSchema,
  SilentDeviceSchema,
} from '../schemas.ts';

const IdParams = z.object({ id: DeviceId });

/** A device of another department is reported as absent, not forbidden: its existence is not disclosed. */
export async function visibleDevice(ctx: ApiContext, req: FastifyRequest, id: string): Promise<Device> {
  const device = await ctx.registry.getDevice(id);
  const dept = actingDepartment(req);
  if (!device || (dept !== undefined && device.department !== dept)) {
    throw new SusError('SUS_ERR_DEVICE_NOT_FOUND', `device '${id}' does not exist`, 404, { device: id });
  }
  return device;
}

async function activeDevice(deps: ApiDeps, req: FastifyRequest, id: string): Promise<Device> {
  const device = await visibleDevice(deps, req, id);
  if ((await deps.registry.decommissionedAt([id])).has(id))
    throw new SusError('SUS_ERR_DEVICE_DECOMMISSIONED', `device '${id}' is decommissioned`, 409, { device: id });
  return device;
}

/** Silent = no data for longer than SUS_SILENT_FACTOR × the type's expected interval. */
function silence(device: Device, intervalS: number, factor: number, now: number) {
  const last = device.lastSeenAt ? Date.parse(device.lastSeenAt) : undefined;
  const silentForS = last === undefined ? null : Math.max(0, Math.floor((now - last) / 1000));
  return { silentForS, silent: silentForS === null || silentForS > factor * intervalS };
}

export const deviceRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 8 * 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    app.get(
      '/v1/devices',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'Devices visible to the key',
          querystring: z.object({ department: DepartmentId.optional() }),
          response: { 200: z.object({ devices: z.array(DeviceSchema) }) },
        },
      },
      async (req) => {
        const own = actingDepartment(req);
        const department = own ?? req.query.department;
        if (own !== undefined && req.query.department !== undefined && req.query.department !== own)
          return { devices: [] };
        return { devices: await deps.registry.listDevices({ department }) };
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
        const department = targetDepartment(req, req.body.department, 'department');
        const own = actingDepartment(req);
        const { device, secret } = await createDeviceAs(deps.registry, { ...req.body, department }, own);
        return reply.code(201).send({ device, credentials: credentialsFor(device, secret) });
      },
    );

    app.post(
      '/v1/devices/import',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Bulk import from CSV (id,name,department,type,district,lat,lon): all rows or none',
          description:
            'Content-Type: text/csv, at most SUS_IMPORT_MAX_ROWS rows (413 beyond). Every row is validated first; any error answers 400 listing the bad rows by line number (the first SUS_IMPORT_MAX_ERRORS of them, and how many there are) and nothing is imported.',
          consumes: ['text/csv'],
          body: z.string().describe('CSV text'),
          response: { 201: ImportResultSchema, 400: ProblemSchema, 413: ProblemSchema },
        },
      },
      async (req, reply) => {
        if (typeof req.body !== 'string' || !(req.headers['content-type'] ?? '').startsWith('text/csv'))
          throw new SusError('SUS_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the file as Content-Type: text/csv', 415);
        const rows = await validateImport(req.body, deps.registry, actingDepartment(req), {
          maxRows: deps.config.SUS_IMPORT_MAX_ROWS,
          maxErrors: deps.config.SUS_IMPORT_MAX_ERRORS,
        });
        const created = await deps.registry.createDevices(rows);
        return reply.code(201).send({
          imported: created.length,
          devices: created.map(({ device, secret }) => ({ device, credentials: credentialsFor(device, secret) })),
        });
      },
    );

    app.get(
      '/v1/devices/silent',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: "Active devices with no data for longer than SUS_SILENT_FACTOR × their type's expected interval",
          querystring: z.object({ department: DepartmentId.optional() }),
          response: { 200: z.object({ devices: z.array(SilentDeviceSchema) }) },
        },
      },
      async (req) => {
        const own = actingDepartment(req);
        if (own !== undefined && req.query.department !== undefined && req.query.department !== own)
          return { devices: [] };
        const devices = await deps.registry.listDevices({ department: own ?? req.query.department });
        const [intervals, gone] = await Promise.all([
          deps.types.intervals(),
          deps.registry.decommissionedAt(devices.map((d) => d.id)),
        ]);
        const now = Date.now();
        return {
          devices: devices.flatMap((d) => {
            if (gone.has(d.id)) return [];
            const expectedIntervalS = intervals.get(d.type) ?? deps.config.SUS_DEFAULT_INTERVAL_S;
            const s = silence(d, expectedIntervalS, deps.config.SUS_SILENT_FACTOR, now);
            return s.silent
              ? [
                  {
                    device: d.id,
                    department: d.department,
                    type: d.type,
                    lastSeenAt: d.lastSeenAt,
                    silentForS: s.silentForS,
                    expectedIntervalS,
                  },
                ]
              : [];
          }),
        };
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
      async (req) => visibleDevice(deps, req, req.params.id),
    );

    app.patch(
      '/v1/devices/:id',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Change name, type, district or location',
          params: IdParams,
          body: DevicePatchSchema,
          response: { 200: DeviceSchema, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req) => {
        await activeDevice(deps, req, req.params.id);
        return deps.registry.updateDevice(req.params.id, req.body);
      },
    );

    app.delete(
      '/v1/devices/:id',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Decommission: credentials stop working at once; the device record and its readings stay',
          params: IdParams,
          response: { 204: z.null(), 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        await visibleDevice(deps, req, req.params.id);
        await deps.registry.decommissionDevice(req.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/devices/:id/credentials',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['devices'],
          summary: 'Rotate the MQTT password: the old one stops working at once; the new one is shown once',
          params: IdParams,
          response: { 200: CredentialsSchema, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req) => {
        const device = await activeDevice(deps, req, req.params.id);
        return credentialsFor(device, await deps.registry.rotateDeviceSecret(device.id));
      },
    );

    app.get(
      '/v1/devices/:id/status',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices'],
          summary: 'Online/silent, last seen, last values, battery and signal where reported',
          params: IdParams,
          response: { 200: DeviceStatusSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const device = await visibleDevice(deps, req, req.params.id);
        const [type, gone, values] = await Promise.all([
          deps.types.get(device.type),
          deps.registry.decommissionedAt([device.id]),
          latestOf(deps, device.id),
        ]);
        const expectedIntervalS = type?.expectedIntervalS ?? deps.config.SUS_DEFAULT_INTERVAL_S;
        const s = silence(device, expectedIntervalS, deps.config.SUS_SILENT_FACTOR, Date.now());
        const decommissionedAt = gone.get(device.id) ?? null;
        const pick = (q: string) => values.find((v) => v.quantity === q)?.value ?? null;
        return {
          device: device.id,
          state: decommissionedAt
            ? ('decommissioned' as const)
            : device.lastSeenAt === null
              ? ('never_seen' as const)
              : s.silent
                ? ('silent' as const)
                : ('online' as const),
          lastSeenAt: device.lastSeenAt,
          expectedIntervalS,
          decommissionedAt,
          values,
          battery: pick('battery_voltage'),
          signal: pick('rssi'),
        };
      },
    );

    app.get(
      '/v1/devices/:id/latest',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['devices', 'readings'],
          summary: 'Last value, unit and time of every quantity the device reported',
          description: 'From the latest-value store; a weak ETag, and If-None-Match with it answers 304.',
          params: IdParams,
          response: { 200: LatestSchema, 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        const device = await visibleDevice(deps, req, req.params.id);
        const body = JSON.stringify({ device: device.id, values: await latestOf(deps, device.id) });
        return sendConditional(req, reply, { type: 'application/json; charset=utf-8', body });
      },
    );
  };
