import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { KeyId } from '../../common/grammar.ts';
import { actingDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiKeySchema, CreatedApiKeySchema, NewApiKeySchema, ProblemSchema } from '../schemas.ts';

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
