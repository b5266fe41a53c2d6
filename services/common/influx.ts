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

/**
 * InfluxQL over `/query`: the read path that InfluxDB 1.x, 2.x (v1 compatibility API) and 3.x all serve.
 */
export class InfluxQuery {
  private readonly headers: Record<string, string>;

  constructor(private readonly c: InfluxConfig) {
    const auth = influxAuthorization(c);
    this.headers = { Accept: 'application/json', ...(auth ? { Authorization: auth } : {}) };
  }

  /** Runs one or more statements; returns the series of each statement, in order. */
  async query(q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[][]> {
    const params = new URLSearchParams({ db: this.c.INFLUX_DB, epoch: 'ms', q });
    let res: Response;
    try {
      res = await fetch(`${this.c.INFLUX_URL}/query?${params.toString()}`, {
        method,
        headers: this.headers,
        signal: AbortSignal.timeout(this.c.INFLUX_TIMEOUT_MS),
      });
    } catch (err) {
      throw new SusError(
        'SUS_ERR_INFLUX_UNAVAILABLE',
        `InfluxDB at ${this.c.INFLUX_URL} is unreachable: ${String(err)}`,
        503,
      );
    }
    const body = (await res.json().catch(() => ({}))) as InfluxQueryResponse;
    if (!res.ok || body.error) {
      throw new SusError(
        'SUS_ERR_INFLUX_QUERY',
        `InfluxDB query failed (${res.status}): ${body.error ?? res.statusText}`,
        502,
        {
          query: q,
        },
      );
    }
    return (body.results ?? []).map((r) => {
      if (r.error) throw new SusError('SUS_ERR_INFLUX_QUERY', `InfluxDB query failed: ${r.error}`, 502, { query: q });
      return r.series ?? [];
    });
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
