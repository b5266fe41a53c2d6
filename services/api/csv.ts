import type { FastifyReply, FastifyRequest } from 'fastify';

// A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): = + - @ and tab or CR before them.
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180 field: quoted when it holds a separator, quote or line break. Text that starts like a formula gets a
 * leading apostrophe so spreadsheets show it as text; numbers (a negative value) stay numbers.
 */
function field(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: string[], rows: readonly object[]): string {
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => field((r as Record<string, unknown>)[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Content negotiation for the exports: `Accept: text/csv` or `?format=csv`. */
export function wants(req: FastifyRequest, format: 'csv' | 'geojson'): boolean {
  const q = (req.query as { format?: string } | undefined)?.format;
  if (q !== undefined) return q === format;
  const accept = req.headers.accept ?? '';
  return format === 'csv' ? accept.includes('text/csv') : accept.includes('application/geo+json');
}

/**
 * Sends a body the route's zod serializer does not describe (CSV, GeoJSON, images): the typed reply only knows the
 * JSON shape, so this goes through the untyped reply with a pass-through serializer.
 */
export function sendRaw(reply: unknown, status: number, type: string, body: string | Buffer): FastifyReply {
  const r = reply as FastifyReply;
  return r
    .code(status)
    .type(type)
    .serializer((p) => p as string)
    .send(body);
}

export function sendCsv(reply: unknown, columns: string[], rows: readonly object[], status = 200): FastifyReply {
  return sendRaw(reply, status, 'text/csv; charset=utf-8', toCsv(columns, rows));
}
