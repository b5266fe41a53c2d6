import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import type { Service } from '../common/service.ts';
import type { Queryable } from './db.ts';
import type { Registry } from './registry.ts';

/** How long the registry's growing tables keep their rows; days of 0 keep them forever. */
export interface RetentionSettings {
  deadLetterDays: number;
  /** Most dead letters kept, newest first. */
  deadLetterMaxRows: number;
  ackDays: number;
  auditDays: number;
  /** Resolved alerts, alert history and webhook deliveries. */
  alertDays: number;
}

export const retentionSettings = (
  c: Pick<
    Config,
    | 'SUS_DEAD_LETTER_RETENTION_DAYS'
    | 'SUS_DEAD_LETTER_MAX_ROWS'
    | 'SUS_ACK_RETENTION_DAYS'
    | 'SUS_AUDIT_RETENTION_DAYS'
    | 'SUS_ALERT_HISTORY_RETENTION_DAYS'
  >,
): RetentionSettings => ({
  deadLetterDays: c.SUS_DEAD_LETTER_RETENTION_DAYS,
  deadLetterMaxRows: c.SUS_DEAD_LETTER_MAX_ROWS,
  ackDays: c.SUS_ACK_RETENTION_DAYS,
  auditDays: c.SUS_AUDIT_RETENTION_DAYS,
  alertDays: c.SUS_ALERT_HISTORY_RETENTION_DAYS,
});

/** Rows a pass deleted, by table. */
export interface HousekeepingResult {
  deadLetters: number;
  acks: number;
  audit: number;
  /** Resolved alerts, history entries and deliveries. */
  alerts: number;
  /** Expired console sessions and pending OpenID sign-ins. */
  sessions: number;
}

const DAY_MS = 24 * 3600 * 1000;
/** Rows per DELETE: short statements, so a first pass over a large backlog never holds locks for long. */
const CHUNK = 5000;
// PostgreSQL advisory lock: where several processes share the registry (sus broker beside sus api), one pass at a
// time does the work and the others skip it.
const HOUSEKEEPING_LOCK = 0x5355_5302;

/**
 * Registry housekeeping: deletes dead letters, device answers (acks), audit entries and alert records past their
 * retention, expired console sessions, and
 * the oldest dead letters beyond SUS_DEAD_LETTER_MAX_ROWS. Runs once shortly after start, then every `intervalMs`.
 */
export class RegistryHousekeeping implements Service {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly settings: RetentionSettings,
    private readonly log: Logger,
    private readonly intervalMs = 3600_000,
    private readonly firstDelayMs = 10_000,
  ) {}

  async start(): Promise<void> {
    const tick = () => {
      this.running ??= this.runOnce()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'registry housekeeping failed; retried next time'))
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setTimeout(() => {
      tick();
      this.timer = setInterval(tick, this.intervalMs);
      this.timer.unref();
    }, this.firstDelayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; `now` for tests. */
  async runOnce(now = new Date()): Promise<HousekeepingResult> {
    const s = this.settings;
    const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const result: HousekeepingResult = { deadLetters: 0, acks: 0, audit: 0, alerts: 0, sessions: 0 };
    if (s.deadLetterDays > 0) {
      result.deadLetters += await this.deleteChunks(
        'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < $1 LIMIT $2)',
        [before(s.deadLetterDays)],
      );
    }
    // The newest deadLetterMaxRows stay: everything at or below the id just past them goes.
    result.deadLetters += await this.deleteChunks(
      `DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE id <= (
         SELECT id FROM dead_letters ORDER BY id DESC OFFSET $1 LIMIT 1) LIMIT $2)`,
      [s.deadLetterMaxRows],
    );
    if (s.ackDays > 0) {
      result.acks = await this.deleteChunks(
        'DELETE FROM device_acks WHERE id IN (SELECT id FROM device_acks WHERE received_at < $1 LIMIT $2)',
        [before(s.ackDays)],
      );
    }
    if (s.auditDays > 0) {
      result.audit = await this.deleteChunks(
        'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2)',
        [before(s.auditDays)],
      );
    }
    if (s.alertDays > 0) {
      const cutoff = [before(s.alertDays)];
      // A resolved alert takes its history and deliveries with it; a long-firing one keeps only recent entries.
      for (const table of ['alert_history', 'alert_deliveries'])
        result.alerts += await this.deleteChunks(
          `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${table === 'alert_history' ? 'at' : 'created_at'} < $1 LIMIT $2)`,
          cutoff,
        );
      result.alerts += await this.deleteChunks(
        `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE state = 'resolved' AND resolved_at < $1 LIMIT $2)`,
        cutoff,
      );
    }
    // Expired sessions are refused when read already; the sweep keeps those nobody reads again from piling up.
    for (const table of ['console_sessions', 'oidc_sign_ins'])
      result.sessions += await this.deleteChunks(
        `DELETE FROM ${table} WHERE seq IN (SELECT seq FROM ${table} WHERE expires_at <= $1 LIMIT $2)`,
        [now],
      );
    if (result.deadLetters + result.acks + result.audit + result.alerts + result.sessions > 0) {
      this.log.info({ ...result }, 'registry housekeeping deleted rows past their retention');
    }
    return result;
  }

  /** Runs `sql` (its last parameter is the chunk size) until a chunk deletes less than a full one. */
  private async deleteChunks(sql: string, params: unknown[]): Promise<number> {
    const db = this.registry.db;
    let total = 0;
    for (;;) {
      const deleted = await db.transaction(async (tx) => {
        if (!(await this.lock(tx))) return 0;
        return (await tx.query(`${sql} RETURNING 1`, [...params, CHUNK])).length;
      });
      total += deleted;
      if (deleted < CHUNK) return total;
    }
  }

  /** Takes the housekeeping lock for this transaction (PostgreSQL); false when another process holds it. */
  private async lock(tx: Queryable): Promise<boolean> {
    if (this.registry.kind !== 'postgres') return true;
    const [r] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [HOUSEKEEPING_LOCK]);
    return r?.ok === true;
  }
}
