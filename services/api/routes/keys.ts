import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Timestamp } from '../../common/api-contract.ts';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, KeyId, name } from '../../common/grammar.ts';
import { SCOPES } from '../../registry/index.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';

export const ScopeSchema = z.enum(SCOPES);

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    department: z.string().nullable().describe('null: a platform-wide key'),
    scopes: z.array(ScopeSchema),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const NewApiKeySchema = z.object({
  name: name(100),
  department: DepartmentId.nullable().optional().describe("defaults to the creating key's department"),
  scopes: z.array(ScopeSchema).min(1),
});

export const CreatedApiKeySchema = z.object({
  key: z.string().describe('the secret: shown once, stored only as a hash'),
  record: ApiKeySchema,
});

export const keyRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['access'],
          summary: "API keys (a department's admin sees its own); secrets are never shown again",
          response: { 200: z.object({ keys: z.array(ApiKeySchema) }) },
        },
      },
      async (req) => ({ keys: await deps.keys.list(actingDepartment(req)) }),
    );

    app.post(
      '/v1/keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['access'],
          summary: 'Create a key; the response carries the secret, once',
          body: NewApiKeySchema,
          response: { 201: CreatedApiKeySchema, 400: ProblemSchema, 403: ProblemSchema },
        },
      },
      async (req, reply) => {
        const own = actingDepartment(req);
        const department = req.body.department === undefined ? (own ?? null) : req.body.department;
        // A department admin can only mint keys for its own department, never platform-wide ones.
        if (own !== undefined && department !== own) {
          throw new SusError('SUS_ERR_FORBIDDEN', `this key may only create keys of department '${own}'`, 403, {
            field: 'department',
          });
        }
        const created = await deps.registry.keys.create({
          name: req.body.name,
          department,
          scopes: [...new Set(req.body.scopes)],
        });
        return reply.code(201).send(created);
      },
    );

    app.delete(
      '/v1/keys/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['access'],
          summary: 'Revoke a key (takes effect at once)',
          params: z.object({ id: KeyId }),
          response: { 200: ApiKeySchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const key = await deps.registry.keys.revoke(req.params.id, actingDepartment(req));
        deps.forgetKey(key.id);
        return key;
      },
    );
  };
