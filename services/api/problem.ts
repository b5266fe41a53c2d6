import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { SusError } from '../common/errors.ts';

/** RFC 9457 problem details; `code` is the stable, machine-readable part. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  errors?: Array<{ field: string; message: string; line?: number }>;
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export const problem = (
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem => ({
  type: `urn:sus:problem:${code}`,
  title: TITLES[status] ?? 'Error',
  status,
  code,
  detail,
  ...extra,
});

/** Every error leaves the API as application/problem+json with a stable code. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/problem+json')
      .send(
        problem(404, 'SUS_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`, {
          instance: req.url,
        }),
      );
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let body: Problem;
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'request';
      const errors = err.validation.map((v) => ({
        field: `${where}${v.instancePath.replace(/\//g, '.')}`,
        message: v.message ?? 'invalid',
      }));
      body = problem(400, 'SUS_ERR_VALIDATION', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
    } else if (err instanceof SusError) {
      // A list of field errors (CSV import) is lifted to the standard `errors` member.
      const { errors, ...context } = err.context;
      body = problem(err.statusCode, err.code, err.message, {
        ...(Object.keys(context).length ? { context } : {}),
        ...(Array.isArray(errors) ? { errors } : {}),
      });
      // Internals (a query, a server's address, its answer) travel as the cause: logged, never answered. The
      // request id in `instance` finds the log line.
      if (err.cause !== undefined) {
        const line = { err: { code: err.code, message: err.message }, cause: err.cause, reqId: req.id };
        if (err.statusCode >= 500) req.log.error(line, 'request failed');
        else req.log.info(line, 'request refused');
        body.instance = req.id;
      }
    } else if (err.statusCode && err.statusCode < 500) {
      body = problem(err.statusCode, err.code ?? 'SUS_ERR_BAD_REQUEST', err.message);
    } else {
      req.log.error({ err }, 'request failed');
      body = problem(500, 'SUS_ERR_INTERNAL', 'internal error; see the server log', { instance: req.id });
    }
    void reply.code(body.status).type('application/problem+json').send(body);
  });
}
