import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendRaw } from './csv.ts';

/** A weak validator of a body: the same bytes give the same tag on every API node. */
export function weakEtag(body: string): string {
  return `W/"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** If-None-Match holds `etag` (weak comparison, RFC 9110 §13.1.2) or `*`. */
export function notModified(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === opaque;
  });
}

/**
 * Sends `body` with its ETag, or 304 with no body when the client holds it already (maps and dashboards poll).
 * Called after access was checked, so a 304 tells nothing a 200 would not. The representation depends on Accept.
 */
export function sendConditional(
  req: FastifyRequest,
  reply: unknown,
  type: string,
  body: string,
  etag = weakEtag(body),
): FastifyReply {
  const r = (reply as FastifyReply).header('etag', etag).header('vary', 'Accept');
  if (notModified(req, etag)) return r.code(304).send();
  return sendRaw(r, 200, type, body);
}
