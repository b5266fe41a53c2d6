import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ERRORS_DOC_PATH, renderErrorsDoc } from '../../common/error-codes.ts';
import type { ApiContext } from '../context.ts';

/** The error catalogue (docs/errors.md) at the path every problem's `type` names, so the link resolves here. */
export const errorsDocRoutes =
  (_ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    // Rendered once: the catalogue is constant for the life of the process.
    const doc = renderErrorsDoc();
    app.get(ERRORS_DOC_PATH, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/markdown; charset=utf-8').send(doc),
    );
  };
