import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendRaw } from './csv.ts';

const gzipped = promisify(gzip);

/** A weak validator of a body: the same bytes give the same tag on every API node. */
export function weakEtag(body: string | Buffer): string {
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

/** The client takes gzip (Accept-Encoding names it without q=0). */
export function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    return coding === 'gzip' && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

/**
 * A finished answer that many requests share: its bytes, its ETag, and its gzip form made once, off the main thread,
 * for the first client that accepts it (a department's 10,000 latest values are ~2 MB of JSON, ~10 × less gzipped).
 */
export class SharedAnswer {
  readonly etag: string;
  private zipped: Promise<Buffer> | undefined;

  constructor(
    readonly type: string,
    readonly body: Buffer,
  ) {
    this.etag = weakEtag(body);
  }

  gzip(): Promise<Buffer> {
    this.zipped ??= gzipped(this.body);
    return this.zipped;
  }
}

/**
 * Sends the answer with its ETag, or 304 with no body when the client holds it already (maps and dashboards poll).
 * Called after access was checked, so a 304 tells nothing a 200 would not. The representation depends on Accept
 * (format) and Accept-Encoding; one weak ETag serves both codings, which are the same content.
 */
export async function sendConditional(
  req: FastifyRequest,
  reply: unknown,
  answer: SharedAnswer | { type: string; body: string },
): Promise<FastifyReply> {
  const shared = answer instanceof SharedAnswer ? answer : undefined;
  const etag = shared?.etag ?? weakEtag(answer.body);
  const r = (reply as FastifyReply).header('etag', etag).header('vary', 'Accept, Accept-Encoding');
  if (notModified(req, etag)) return r.code(304).send();
  if (shared && acceptsGzip(req))
    return sendRaw(r.header('content-encoding', 'gzip'), 200, shared.type, await shared.gzip());
  return sendRaw(r, 200, answer.type, answer.body);
}
