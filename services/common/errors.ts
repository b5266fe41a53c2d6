/**
 * Coded errors: a stable `code`, an HTTP status where one applies, and the context that says where it happened
 * (device id, topic, field). Messages are for people; codes are for programs and dashboards.
 */
export interface ErrorContext {
  device?: string;
  topic?: string;
  field?: string;
  [key: string]: unknown;
}

export class SusError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 500,
    readonly context: ErrorContext = {},
  ) {
    super(message);
    this.name = 'SusError';
  }
}

export const notFound = (what: string, id: string, code = 'SUS_ERR_NOT_FOUND') =>
  new SusError(code, `${what} '${id}' does not exist`, 404, { id });

export const conflict = (message: string, code = 'SUS_ERR_CONFLICT', context: ErrorContext = {}) =>
  new SusError(code, message, 409, context);

export const badRequest = (message: string, code = 'SUS_ERR_BAD_REQUEST', context: ErrorContext = {}) =>
  new SusError(code, message, 400, context);
