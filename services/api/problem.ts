import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ErrorCode, errorTypeUri, isErrorCode } from '../common/error-codes.ts';
import { SusError } from '../common/errors.ts';
import { registryRefusal } from '../registry/index.ts';

/** RFC 9457 problem details; `code` is the stable, machine-readable part, `type` its entry in docs/errors.md. */
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
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Fastify's and Node's own client errors (FST_ERR_*, HPE_*) under the catalogue's code for their status. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  404: 'SUS_ERR_ROUTE_NOT_FOUND',
  408: 'SUS_ERR_REQUEST_TIMEOUT',
  413: 'SUS_ERR_PAYLOAD_TOO_LARGE',
  414: 'SUS_ERR_URI_TOO_LONG',
  415: 'SUS_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'SUS_ERR_RATE_LIMITED',
  431: 'SUS_ERR_HEADERS_TOO_LARGE',
};
/** Body parser failures: the body is not what its Content-Type says. */
const MALFORMED_BODY = new Set(['FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_JSON_BODY']);

function clientErrorCode(err: FastifyError, status: number): string {
  if (err.code && isErrorCode(err.code)) return err.code;
  if (MALFORMED_BODY.has(err.code) || err instanceof SyntaxError) return 'SUS_ERR_MALFORMED_BODY';
  return CODE_OF_STATUS[status] ?? 'SUS_ERR_BAD_REQUEST';
}

export const problem = (
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem => ({
  type: errorTypeUri(code),
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
    const body = toProblem(err, req);
    void reply.code(body.status).type('application/problem+json').send(body);
  });
}

/**
 * Fastify's `frameworkErrors`: a URL it cannot decode (`%ZZ`) or a path parameter beyond the router's length limit
 * is answered like every other error, as a problem with a catalogued code (Fastify's default is plain JSON).
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 400;
  const code = clientErrorCode(err, status);
  const detail = code === 'SUS_ERR_URI_TOO_LONG' ? 'a path segment is too long' : 'the URL cannot be decoded';
  void reply
    .code(status)
    .type('application/problem+json')
    .send(problem(status, code, detail, { instance: req.id }));
}

/**
 * Node's `clientError`: a request the HTTP parser refuses (control characters in a header, broken framing, headers
 * beyond 16 KiB, too slow) never reaches Fastify's routing. The answer is a problem body too; the connection closes.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const code = CODE_OF_STATUS[status] ?? 'SUS_ERR_BAD_REQUEST';
  const detail =
    status === 408
      ? 'the request was not received in time'
      : status === 431
        ? 'the request line and headers are too large'
        : 'the HTTP request is malformed (invalid characters or framing)';
  const body = JSON.stringify(problem(status, code, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${TITLES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** The problem body of an error a route threw (schema validation, SusError, client errors, registry refusals). */
export function toProblem(err: FastifyError, req: FastifyRequest): Problem {
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
  } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    body = problem(err.statusCode, clientErrorCode(err, err.statusCode), err.message);
  } else {
    const refused = registryRefusal(err);
    if (refused) {
      // A value no grammar stopped: a client error, but also a gap in services/common/grammar.ts worth a look.
      req.log.warn({ err }, 'the registry refused a value of the request');
      body = problem(refused.statusCode, refused.code, refused.message, { context: refused.context });
    } else {
      req.log.error({ err }, 'request failed');
      body = problem(500, 'SUS_ERR_INTERNAL', 'internal error; see the server log', { instance: req.id });
    }
  }
  return body;
}
