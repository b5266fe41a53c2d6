import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ERROR_CODES, errorTypeUri, isErrorCode } from '../../services/common/error-codes.ts';
import { CaseBuilder, type FuzzCase, type FuzzFixture, type OpenApiDoc, operationsOf } from './http-cases.ts';
import { type RawResponse, reproduction, sendRaw } from './raw-http.ts';
import { Rng } from './rng.ts';

export interface HttpFuzzOptions {
  port: number;
  doc: OpenApiDoc;
  fixture: FuzzFixture;
  seed: number;
  rounds: number;
  /** Requests per operation and round. */
  perOperation: number;
  concurrency: number;
  /** The slowest answer allowed. */
  maxMs: number;
}

export interface HttpFuzzFailure {
  operation: string;
  role: string;
  mutation: string;
  why: string;
  status: number;
  ms: number;
  /** A shell line that sends the same bytes again. */
  reproduce: string;
  body: string;
}

export interface HttpFuzzReport {
  sent: number;
  byStatus: Record<number, number>;
  slowestMs: number;
  failures: HttpFuzzFailure[];
}

/**
 * Operations a person's browser arrives at rather than an API client: their errors are pages to read (the OpenID
 * callback answers a failed sign-in as HTML in the person's language).
 */
export const HTML_ERROR_OPERATIONS: ReadonlySet<string> = new Set(['GET /v1/session/oidc/callback']);

/**
 * What is wrong with an answer, or undefined: no 5xx, fast, every error a problem with a catalogued code (or, where
 * `html`, an HTML page).
 */
export function verdict(res: RawResponse, maxMs: number, html = false): string | undefined {
  if (res.timedOut) return 'no answer';
  if (res.status === 0) return 'the connection closed without an answer';
  if (res.status >= 500) return `answered ${res.status}`;
  if (res.ms > maxMs) return `answered after ${Math.round(res.ms)} ms (limit ${maxMs} ms)`;
  if (res.status < 400) return undefined;
  const type = res.headers['content-type'] ?? '';
  // Refusals before the handler (a malformed header or query) stay problems there too.
  if (html && type.startsWith('text/html')) return undefined;
  if (!type.startsWith('application/problem+json')) return `error answered as '${type}', not application/problem+json`;
  let body: { code?: unknown; status?: unknown; type?: unknown; rejected?: Array<{ message?: unknown }> };
  try {
    body = JSON.parse(res.body.toString('utf8')) as typeof body;
  } catch {
    return 'the problem body is not JSON';
  }
  const code = typeof body.code === 'string' ? body.code : '';
  if (!isErrorCode(code)) return `code ${JSON.stringify(body.code)} is not in the error catalogue`;
  // The registry's refusal is the safety net behind the grammars: reaching it means a grammar let the value through.
  if (code === 'SUS_ERR_INVALID_VALUE') return 'a value got past the grammars to the registry (SUS_ERR_INVALID_VALUE)';
  if (body.status !== res.status) return `problem status ${String(body.status)} differs from the HTTP status`;
  if (ERROR_CODES[code].status !== res.status)
    return `${code} is catalogued with status ${ERROR_CODES[code].status}, answered ${res.status}`;
  if (body.type !== errorTypeUri(code)) return `problem type ${JSON.stringify(body.type)} is not ${errorTypeUri(code)}`;
  // An ingest outcome whose reason is the pipeline's catch-all: a defect, whatever the status says.
  if (body.rejected?.some((r) => String(r.message).startsWith('internal error')))
    return `ingest rejected the payload with an internal error: ${JSON.stringify(body.rejected).slice(0, 200)}`;
  return undefined;
}

/**
 * Sends `rounds × operations × perOperation` seeded hostile requests built from the served OpenAPI document and
 * collects every answer that breaks a rule. Case (round, operation, n) depends on the seed alone, not on timing.
 */
export async function fuzzHttp(o: HttpFuzzOptions): Promise<HttpFuzzReport> {
  const builder = new CaseBuilder(o.doc, o.fixture);
  const ops = operationsOf(o.doc);
  const base = new Rng(o.seed);
  const cases: FuzzCase[] = [];
  for (let r = 0; r < o.rounds; r++)
    ops.forEach((op, i) => {
      for (let n = 0; n < o.perOperation; n++) {
        cases.push(builder.build(op.method, op.path, op.op, base.fork((r * 1000 + i) * 10_000 + n)));
      }
    });
  const report: HttpFuzzReport = { sent: 0, byStatus: {}, slowestMs: 0, failures: [] };
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const res = await sendRaw(o.port, c.request);
      report.sent++;
      report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
      report.slowestMs = Math.max(report.slowestMs, res.ms);
      const why = verdict(res, o.maxMs, HTML_ERROR_OPERATIONS.has(c.operation));
      if (why)
        report.failures.push({
          operation: c.operation,
          role: c.role,
          mutation: c.mutation,
          why,
          status: res.status,
          ms: Math.round(res.ms),
          reproduce: reproduction(o.port, c.request),
          body: res.body.toString('utf8').slice(0, 300),
        });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return report;
}

/** Longest reproduction line printed in full; longer ones are in the file `describeFailures` names. */
const PRINT_LIMIT = 2000;

/**
 * The failures as a readable list: what broke, with which key, and the line that sends the request again. Every
 * line in full goes to a shell script in the temporary directory (a 100 kB body does not belong in a test log).
 */
export function describeFailures(failures: HttpFuzzFailure[], limit = 10): string {
  const file = path.join(tmpdir(), `sus-http-fuzz-${process.pid}.sh`);
  writeFileSync(
    file,
    failures.map((f) => `# ${f.operation} as ${f.role}, ${f.mutation}: ${f.why}\n${f.reproduce}\n`).join(''),
  );
  const shown = failures.slice(0, limit).map((f) => {
    const line =
      f.reproduce.length <= PRINT_LIMIT ? f.reproduce : `${f.reproduce.slice(0, PRINT_LIMIT)}… (in full in ${file})`;
    return `- ${f.operation} as ${f.role}, ${f.mutation}: ${f.why}\n  answer: ${f.status} ${f.body.slice(0, 200)}\n  reproduce: ${line}`;
  });
  const more = failures.length > limit ? `\n… and ${failures.length - limit} more` : '';
  return `${failures.length} hostile request(s) broke a rule (every reproduction: ${file}):\n${shown.join('\n')}${more}`;
}
