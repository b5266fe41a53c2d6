import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Timestamp } from '../../common/api-contract.ts';
import { SusError } from '../../common/errors.ts';
import {
  DepartmentId,
  DeviceTypeId,
  GrantId,
  IsoTime,
  name,
  QuantityName,
  RowId,
  tagValue,
  text,
} from '../../common/grammar.ts';
import { actingDepartment, targetDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';

export const GrantSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    grantee: z.string().describe("a department id or 'public'"),
    title: z.string(),
    purpose: z.string(),
    licence: z.string().nullable(),
    quantities: z.array(z.string()),
    deviceTypes: z.array(z.string()).nullable(),
    districts: z.array(z.string()).nullable(),
    from: Timestamp.nullable(),
    to: Timestamp.nullable(),
    aggregationFloorS: z.number().int().nullable(),
    updateIntervalS: z.number().int().nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Grant' });

export const NewGrantSchema = z.object({
  owner: DepartmentId.optional().describe("defaults to the key's department"),
  grantee: z.union([DepartmentId, z.literal('public')]),
  title: name(),
  purpose: text().min(1),
  licence: name().nullable().default(null),
  quantities: z.array(QuantityName).min(1).max(64),
  deviceTypes: z.array(DeviceTypeId).min(1).max(64).nullable().default(null),
  districts: z.array(tagValue()).min(1).max(256).nullable().default(null),
  from: IsoTime.nullable().default(null),
  to: IsoTime.nullable().default(null),
  aggregationFloorS: z.number().int().min(1).nullable().default(null).describe('e.g. 3600: hourly aggregates only'),
  updateIntervalS: z.number().int().min(1).nullable().default(null),
  expiresAt: IsoTime,
});

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    grantId: z.string(),
    owner: z.string(),
    reader: z.string().nullable().describe('null: anonymous open-data read'),
    keyId: z.string().nullable(),
    route: z.string(),
    query: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });

export const grantRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/grants',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['sharing'],
          summary: 'Grants the department gave or received',
          response: { 200: z.object({ grants: z.array(GrantSchema) }) },
        },
      },
      async (req) => ({ grants: await deps.grants.listFor(actingDepartment(req)) }),
    );

    app.post(
      '/v1/grants',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['sharing'],
          summary: "Share a slice of the department's data with another department or the public",
          body: NewGrantSchema,
          response: { 201: GrantSchema, 400: ProblemSchema, 403: ProblemSchema },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const owner = targetDepartment(req, b.owner, 'owner');
        if (!(await deps.registry.getDepartment(owner)))
          throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${owner}' does not exist`, 400, {
            field: 'owner',
          });
        if (b.grantee !== 'public' && !(await deps.registry.getDepartment(b.grantee)))
          throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${b.grantee}' does not exist`, 400, {
            field: 'grantee',
          });
        if (b.grantee === owner)
          throw new SusError('SUS_ERR_VALIDATION', 'a department needs no grant for its own data', 400, {
            field: 'grantee',
          });
        const unknown = b.quantities.filter((q) => !deps.catalogue.get(q));
        if (unknown.length)
          throw new SusError('SUS_ERR_UNKNOWN_QUANTITY', `not in the catalogue: ${unknown.join(', ')}`, 400, {
            field: 'quantities',
          });
        if (Date.parse(b.expiresAt) <= Date.now())
          throw new SusError('SUS_ERR_VALIDATION', 'expiresAt must be in the future', 400, { field: 'expiresAt' });
        const grant = await deps.grants.create({
          ...b,
          owner,
          quantities: b.quantities.map((q) => deps.catalogue.get(q)!.name),
          createdBy: req.principal?.id ?? null,
        });
        return reply.code(201).send(grant);
      },
    );

    app.delete(
      '/v1/grants/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['sharing'],
          summary: 'Revoke a grant (reads through it are refused from now on)',
          params: z.object({ id: GrantId }),
          response: { 200: GrantSchema, 404: ProblemSchema },
        },
      },
      async (req) => deps.grants.revoke(req.params.id, actingDepartment(req)),
    );

    app.get(
      '/v1/audit',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['sharing'],
          summary: "Reads of the department's data by others through grants, newest first",
          querystring: z.object({
            before: RowId.optional().describe('id cursor'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ entries: z.array(AuditEntrySchema), next: z.number().int().nullable() }) },
        },
      },
      async (req) => {
        const entries = await deps.audit.list(actingDepartment(req), req.query.limit, req.query.before);
        return { entries, next: entries.length === req.query.limit ? entries[entries.length - 1]!.id : null };
      },
    );
  };
