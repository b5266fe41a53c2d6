import type { Config } from './config.ts';
import { SusError } from './errors.ts';

export type InfluxConfig = Pick<
  Config,
  | 'INFLUX_URL'
  | 'INFLUX_DB'
  | 'INFLUX_ORG'
  | 'INFLUX_TOKEN'
  | 'INFLUX_USERNAME'
  | 'INFLUX_PASSWORD'
  | 'INFLUX_API'
  | 'INFLUX_TIMEOUT_MS'
>;

function basicAuth(c: InfluxConfig): string | undefined {
  if (!c.INFLUX_USERNAME) return undefined;
  return `Basic ${Buffer.from(`${c.INFLUX_USERNAME}:${c.INFLUX_PASSWORD ?? ''}`).toString('base64')}`;
}

/** v2 token: INFLUX_TOKEN, or `user:password` which InfluxDB 1.8+ accepts on its v2 compatibility API. */
function v2Token(c: InfluxConfig): string | undefined {
  if (c.INFLUX_TOKEN) return c.INFLUX_TOKEN;
  if (c.INFLUX_USERNAME) return `${c.INFLUX_USERNAME}:${c.INFLUX_PASSWORD ?? ''}`;
  return undefined;
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

interface InfluxQueryResponse {
  results?: Array<{ statement_id?: number; series?: InfluxSeries[]; error?: string }>;
  error?: string;
}

/** Escapes a string for an InfluxQL single-quoted literal. */
export const influxString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
/** Escapes an identifier (measurement, tag key) for InfluxQL double quotes. */
export const influxIdent = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The Authorization header for the configured API: Basic for 1.x, a v2 token otherwise; undefined without one. */
export function influxAuthorization(c: InfluxConfig): string | undefined {
  if (c.INFLUX_API === 'v1') return basicAuth(c);
  const token = v2Token(c);
  return token && `Token ${token}`;
}

/** The read side's own bound: the largest answer it reads (SUS_QUERY_MAX_BYTES; the writer does not need it). */
export type InfluxQueryConfig = InfluxConfig & Partial<Pick<Config, 'SUS_QUERY_MAX_BYTES'>>;

// Queries longer than this go in a POST body: a device list in a WHERE clause outgrows URL limits.
const MAX_GET_QUERY = 4096;
const DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * A SusError whose message is safe to show a client; `detail` (the query, the server's URL and answer) goes only
 * to the log, as the error's cause.
 */
function influxError(code: string, message: string, status: number, detail: Record<string, unknown>): SusError {
  const err = new SusError(code, message, status);
  err.cause = detail;
  return err;
}

/**
 * InfluxQL over `/query`: the read path that InfluxDB 1.x, 2.x (v1 compatibility API) and 3.x all serve. The
 * answer is read with a byte bound and must be InfluxDB's JSON: an oversized, cut or foreign answer is an error,
 * never an empty result.
 */
export class InfluxQuery {
  private readonly headers: Record<string, string>;
  private readonly maxAnswerBytes: number;

  constructor(private readonly c: InfluxQueryConfig) {
    const auth = influxAuthorization(c);
    this.headers = { Accept: 'application/json', ...(auth ? { Authorization: auth } : {}) };
    this.maxAnswerBytes = c.SUS_QUERY_MAX_BYTES ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  /** Runs one or more statements; returns the series of each statement, in order. */
  async query(q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[][]> {
    const inBody = method === 'POST' || q.length > MAX_GET_QUERY;
    const params = new URLSearchParams({ db: this.c.INFLUX_DB, epoch: 'ms' });
    if (!inBody) params.set('q', q);
    let res: Response;
    try {
      res = await fetch(`${this.c.INFLUX_URL}/query?${params.toString()}`, {
        method: inBody ? 'POST' : 'GET',
        headers: inBody ? { ...this.headers, 'Content-Type': 'application/x-www-form-urlencoded' } : this.headers,
        body: inBody ? new URLSearchParams({ q }).toString() : undefined,
        signal: AbortSignal.timeout(this.c.INFLUX_TIMEOUT_MS),
      });
    } catch (err) {
      throw influxError('SUS_ERR_INFLUX_UNAVAILABLE', 'InfluxDB is unreachable; try again later', 503, {
        url: this.c.INFLUX_URL,
        error: String(err),
      });
    }
    const text = await this.readBounded(res, q);
    let body: InfluxQueryResponse | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed;
    } catch {
      body = undefined;
    }
    if (!res.ok || !body || body.error || !Array.isArray(body.results ?? [])) {
      throw influxError('SUS_ERR_INFLUX_QUERY', `InfluxDB could not answer the query (HTTP ${res.status})`, 502, {
        query: q,
        status: res.status,
        answer: text.slice(0, 500),
      });
    }
    return (body.results ?? []).map((r) => {
      if (r.error)
        throw influxError('SUS_ERR_INFLUX_QUERY', 'InfluxDB could not answer the query', 502, {
          query: q,
          error: r.error,
        });
      return r.series ?? [];
    });
  }

  /** The answer's text, refused once it passes the byte bound (before it is all in memory). */
  private async readBounded(res: Response, q: string): Promise<string> {
    const max = this.maxAnswerBytes;
    const tooLarge = () =>
      influxError(
        'SUS_ERR_QUERY_BUDGET',
        `InfluxDB's answer to this query exceeds ${max} bytes (SUS_QUERY_MAX_BYTES): narrow it (a shorter range, fewer devices or quantities)`,
        400,
        { query: q },
      );
    const declared = Number(res.headers.get('content-length'));
    if (declared > max) {
      await res.body?.cancel();
      throw tooLarge();
    }
    if (!res.body) return '';
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    try {
      for await (const chunk of res.body) {
        bytes += chunk.byteLength;
        if (bytes > max) throw tooLarge();
        chunks.push(chunk);
      }
    } catch (err) {
      await res.body.cancel().catch(() => undefined);
      if (err instanceof SusError) throw err;
      throw influxError('SUS_ERR_INFLUX_QUERY', 'InfluxDB broke off its answer to the query', 502, {
        query: q,
        error: String(err),
        bytes,
      });
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.c.INFLUX_URL}/ping`, { signal: AbortSignal.timeout(2000) });
      return res.status === 204 || res.ok;
    } catch {
      return false;
    }
  }

  /** Creates the database where the server has that notion (1.x); harmless elsewhere. */
  async ensureDatabase(): Promise<void> {
    await this.query(`CREATE DATABASE ${influxIdent(this.c.INFLUX_DB)}`, 'POST');
  }
}
