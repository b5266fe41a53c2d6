import { SusError } from '../../common/errors.ts';
import { type InfluxQuery, influxIdent } from '../../common/influx.ts';
import type { Logger } from '../../common/logger.ts';
import { DAY_MS, HOUR_MS, ROLLUP, type RollupWindow } from '../../common/rollups.ts';

/** Days each kind of data is kept; 0 keeps it forever. */
export interface RetentionDays {
  raw: number;
  hourly: number;
  daily: number;
}

/** Milliseconds of a Go duration as InfluxDB 1.x prints it (`168h0m0s`, `0s` = forever → 0). */
export function parseInfluxDuration(d: string): number {
  let ms = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)/g)) {
    const scale: Record<string, number> = {
      ns: 1e-6,
      us: 1e-3,
      µs: 1e-3,
      ms: 1,
      s: 1000,
      m: 60_000,
      h: HOUR_MS,
      d: DAY_MS,
      w: 7 * DAY_MS,
    };
    ms += Number(n) * scale[unit!]!;
  }
  return Math.round(ms);
}

/** InfluxDB's own shard-group advice: 1 h below two days, 1 d up to six months, 7 d beyond and for forever. */
export function shardDuration(days: number): string {
  if (days === 0 || days > 183) return '7d';
  return days < 2 ? '1h' : '1d';
}

const duration = (days: number) => (days === 0 ? 'INF' : `${days}d`);

export interface PolicyRow {
  name: string;
  durationMs: number;
  isDefault: boolean;
}

/** One statement that makes a policy last `days`; undefined when it already does. */
export function policyStatement(
  db: string,
  name: string,
  days: number,
  existing: PolicyRow | undefined,
): string | undefined {
  const target = `DURATION ${duration(days)} REPLICATION 1 SHARD DURATION ${shardDuration(days)}`;
  if (!existing) return `CREATE RETENTION POLICY ${influxIdent(name)} ON ${influxIdent(db)} ${target}`;
  if (existing.durationMs === days * DAY_MS) return undefined;
  return `ALTER RETENTION POLICY ${influxIdent(name)} ON ${influxIdent(db)} ${target}`;
}

/**
 * The retention of raw readings and rollups as InfluxDB 1.x retention policies, created and altered at start: the
 * database's default policy holds the raw readings (SUS_RAW_RETENTION_DAYS), `rollup_1h` and `rollup_1d` the
 * rollups. Shortening the raw policy waits until the hourly rollups reach past the new limit, so a first start on an
 * old database never lets InfluxDB drop readings that have no rollup yet. InfluxDB 2.x/3.x have no retention
 * policies: there the buckets `<db>/rollup_1h` and `<db>/rollup_1d` and their retention are the operator's
 * (services/ingest/README.md), and a refused statement is logged once.
 */
export class RetentionPolicies {
  /** True once every policy is as configured. */
  settled = false;

  constructor(
    private readonly influx: InfluxQuery,
    private readonly db: string,
    private readonly days: RetentionDays,
    private readonly log: Logger,
  ) {}

  /** Brings the policies in line; `hourlyDoneUntil` is how far hourly rollups reach (epoch ms). */
  async apply(hourlyDoneUntil: number | undefined, now = Date.now()): Promise<void> {
    if (this.settled) return;
    let rows: PolicyRow[];
    try {
      rows = await this.policies();
    } catch (err) {
      // Unreachable: tried again with the next pass. Refused: a server without retention policies.
      if (err instanceof SusError && err.code === 'SUS_ERR_INFLUX_UNAVAILABLE') throw err;
      this.settled = true;
      this.log.warn(
        { err: (err as Error).message },
        'InfluxDB has no retention policies to manage here (2.x/3.x): set the retention of the buckets ' +
          `${this.db}, ${this.db}/${ROLLUP['1h'].policy} and ${this.db}/${ROLLUP['1d'].policy} yourself`,
      );
      return;
    }
    const want: Array<[RollupWindow, number]> = [
      ['1h', this.days.hourly],
      ['1d', this.days.daily],
    ];
    for (const [window, days] of want) {
      const name = ROLLUP[window].policy;
      await this.run(
        policyStatement(
          this.db,
          name,
          days,
          rows.find((r) => r.name === name),
        ),
        name,
        days,
      );
    }
    const raw = rows.find((r) => r.isDefault);
    if (!raw) return;
    const shorter = this.days.raw !== 0 && (raw.durationMs === 0 || this.days.raw * DAY_MS < raw.durationMs);
    if (shorter && (hourlyDoneUntil === undefined || hourlyDoneUntil < now - this.days.raw * DAY_MS)) {
      this.log.info(
        { days: this.days.raw, hourlyRollupsUntil: hourlyDoneUntil && new Date(hourlyDoneUntil).toISOString() },
        'raw readings keep their retention until the hourly rollups reach past the new limit',
      );
      return;
    }
    await this.run(policyStatement(this.db, raw.name, this.days.raw, raw), raw.name, this.days.raw);
    this.settled = true;
  }

  private async run(statement: string | undefined, policy: string, days: number): Promise<void> {
    if (!statement) return;
    await this.influx.query(statement, 'POST');
    this.log.info({ policy, days: days === 0 ? 'forever' : days }, 'InfluxDB retention policy set');
  }

  private async policies(): Promise<PolicyRow[]> {
    const [series = []] = await this.influx.query(`SHOW RETENTION POLICIES ON ${influxIdent(this.db)}`);
    const s = series[0];
    if (!s) return [];
    const at = (c: string) => s.columns.indexOf(c);
    return s.values.map((v) => ({
      name: String(v[at('name')]),
      durationMs: parseInfluxDuration(String(v[at('duration')])),
      isDefault: v[at('default')] === true,
    }));
  }
}
