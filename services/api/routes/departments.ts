import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Timestamp } from '../../common/api-contract.ts';
import { DepartmentId, name } from '../../common/grammar.ts';
import { requirePlatformKey } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ProblemSchema } from '../schemas.ts';

export const DepartmentSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: Timestamp })
  .meta({ id: 'Department' });

export const NewDepartmentSchema = z.object({ id: DepartmentId, name: name() });

export const departmentRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/departments',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['departments'],
          summary: 'All departments',
          response: { 200: z.object({ departments: z.array(DepartmentSchema) }) },
        },
      },
      async () => ({ departments: await ctx.registry.listDepartments() }),
    );

    app.post(
      '/v1/departments',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['departments'],
          summary: 'Create a department',
          body: NewDepartmentSchema,
          response: { 201: DepartmentSchema, 403: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        requirePlatformKey(req);
        return reply.code(201).send(await ctx.registry.createDepartment(req.body));
      },
    );
  };
