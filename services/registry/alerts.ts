import { randomBytes } from 'node:crypto';
import { notFound } from '../common/errors.ts';
import { type Db, type Queryable, storableText } from './db.ts';

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export interface Alert {
  id: number;
  rule: string;
  device: string;
  /** The department that owns the rule and sees the alert. */
  department: string;
  state: AlertState;
  /** Counts the times this rule × device started again after a resolution (part of the idempotency key). */
  episode: number;
  value: number | null;
  since: string;
  firedAt: string | null;
  resolvedAt: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
  updatedAt: string;
}

export interface AlertHistoryEntry {
  at: string;
  state: string;
  value: number | null;
  note: string | null;
}

export interface Delivery {
  id: number;
  alert: number;
  idempotencyKey: string;
  url: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string;
  deliveredAt: string | null;
}

/** A delivery as the notifier sends it (with the secret and the body, which the API never shows). */
export interface OutgoingDelivery extends Delivery {
  secret: string;
  body: string;
}

export interface Silence {
  id: string;
  department: string;
  rule: string | null;
  device: string | null;
  reason: string;
  endsAt: string;
  createdBy: string | null;
  createdAt: string;
}

/** A state change the evaluator decided; `notify` gets one delivery each unless a silence covers the alert. */
export interface AlertTransition {
  rule: string;
  device: string;
  department: string;
  state: AlertState;
  value: number | null;
  at: Date;
  note?: string;
  notify: ReadonlyArray<{ url: string; secret: string }>;
  /** The rule's group wait: deliveries wait this long, joined by the rule's other changes to the same state. */
  groupWaitMs?: number;
  /** The notification body once the alert's id and episode are known. */
  body(alert: Alert): string;
}

export interface AlertFilter {
  department?: string;
  state?: AlertState;
  rule?: string;
  device?: string;
  since?: Date;
  before?: number;
  limit: number;
}

interface AlertRow {
  id: number;
  rule_id: string;
  device_id: string;
  department_id: string;
  state: AlertState;
  episode: number;
  value: number | null;
  since: Date;
  fired_at: Date | null;
  resolved_at: Date | null;
  acked_at: Date | null;
  acked_by: string | null;
  ack_note: string | null;
  updated_at: Date;
}

const ALERT_COLUMNS =
  'id, rule_id, device_id, department_id, state, episode, value, since, fired_at, resolved_at, acked_at, acked_by, ack_note, updated_at';
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  rule: r.rule_id,
  device: r.device_id,
  department: r.department_id,
  state: r.state,
  episode: r.episode,
  value: r.value,
  since: r.since.toISOString(),
  firedAt: iso(r.fired_at),
  resolvedAt: iso(r.resolved_at),
  ackedAt: iso(r.acked_at),
  ackedBy: r.acked_by,
  ackNote: r.ack_note,
  updatedAt: r.updated_at.toISOString(),
});

interface DeliveryRow {
  id: number;
  alert_id: number;
  idempotency_key: string;
  url: string;
  secret: string;
  body: string;
  state: Delivery['state'];
  attempts: number;
  last_error: string | null;
  created_at: Date;
  next_attempt_at: Date;
  delivered_at: Date | null;
}
const DELIVERY_COLUMNS =
  'id, alert_id, idempotency_key, url, secret, body, state, attempts, last_error, created_at, next_attempt_at, delivered_at';
const toDelivery = (r: DeliveryRow): Delivery => ({
  id: r.id,
  alert: r.alert_id,
  idempotencyKey: r.idempotency_key,
  url: r.url,
  state: r.state,
  attempts: r.attempts,
  lastError: r.last_error,
  createdAt: r.created_at.toISOString(),
  nextAttemptAt: r.next_attempt_at.toISOString(),
  deliveredAt: iso(r.delivered_at),
});

interface SilenceRow {
  id: string;
  department_id: string;
  rule_id: string | null;
  device_id: string | null;
  reason: string;
  ends_at: Date;
  created_by: string | null;
  created_at: Date;
}
const toSilence = (r: SilenceRow): Silence => ({
  id: r.id,
  department: r.department_id,
  rule: r.rule_id,
  device: r.device_id,
  reason: r.reason,
  endsAt: r.ends_at.toISOString(),
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

const SILENCED_NOTE = 'notifications held back by a silence';

interface ChangedRow extends AlertRow {
  prev_state: AlertState;
  notifies: boolean;
  silenced: boolean;
}

/**
 * A change of an existing alert in one statement: the row locked and read, updated, silences looked up and the
 * history written. Each statement is a pass through PGlite in ingest's thread (~0.4–0.9 ms of CPU apiece): four
 * became one. $1 rule, $2 device, $3 new state, $4 value, $5 time, $6 the transition's note, $7 the note of a
 * notification a silence held back. A restart is a resolved alert firing or pending again: a new episode, its
 * times and acknowledgement cleared; only a firing and the resolution of a fired alert notify.
 */
const UPDATE_EXISTING = `
  WITH prev AS (
    SELECT id, state AS prev_state,
      (state = 'resolved' AND $3::text <> 'resolved') AS restart,
      ($3::text = 'firing' AND state <> 'firing') AS fired
    FROM alerts WHERE rule_id = $1 AND device_id = $2 FOR UPDATE
  ), changed AS (
    UPDATE alerts a SET state = $3::text, value = $4::double precision, updated_at = now(),
      episode = a.episode + CASE WHEN p.restart THEN 1 ELSE 0 END,
      since = CASE WHEN p.restart THEN $5::timestamptz ELSE a.since END,
      fired_at = CASE WHEN p.fired THEN $5::timestamptz WHEN p.restart THEN NULL ELSE a.fired_at END,
      resolved_at = CASE WHEN $3::text = 'resolved' THEN $5::timestamptz WHEN p.restart THEN NULL ELSE a.resolved_at END,
      acked_at = CASE WHEN p.restart THEN NULL ELSE a.acked_at END,
      acked_by = CASE WHEN p.restart THEN NULL ELSE a.acked_by END,
      ack_note = CASE WHEN p.restart THEN NULL ELSE a.ack_note END
    FROM prev p WHERE a.id = p.id
    RETURNING ${ALERT_COLUMNS.split(', ')
      .map((c) => `a.${c}`)
      .join(', ')}, p.prev_state,
      (p.fired OR ($3::text = 'resolved' AND p.prev_state = 'firing')) AS notifies
  ), judged AS (
    SELECT c.*, c.notifies AND EXISTS (
      SELECT 1 FROM silences s WHERE s.department_id = c.department_id AND s.ends_at > now()
        AND (s.rule_id IS NULL OR s.rule_id = c.rule_id) AND (s.device_id IS NULL OR s.device_id = c.device_id)
    ) AS silenced
    FROM changed c
  ), history AS (
    INSERT INTO alert_history (alert_id, at, state, value, note)
    SELECT id, $5::timestamptz, $3::text, $4::double precision,
      COALESCE($6::text, CASE WHEN silenced THEN $7::text END)
    FROM judged
  )
  SELECT * FROM judged`;

export interface TransitionResult {
  alert: Alert;
  silenced: boolean;
  deliveries: number;
  changed: boolean;
}

/**
 * Alerts, their history, their webhook deliveries and silences. A state change, its history entry and its
 * deliveries are written in one transaction: after a restart an alert is neither lost nor notified twice (each
 * delivery has a unique idempotency key, and the notifier resumes the pending ones).
 */
export class AlertStore {
  constructor(private readonly db: Db) {}

  /**
   * Writes a transition; returns the alert and whether a silence held its notifications back. `changed` is false
   * when the alert already was in this state: another node (a device that moved between broker nodes, a new lease
   * holder checking silences) reported the same event, which is recorded but notifies nobody again.
   */
  async transition(t: AlertTransition): Promise<TransitionResult> {
    return this.db.transaction((tx) => this.apply(tx, t));
  }

  /**
   * Several transitions in order, in one transaction: the state changes one ingest batch caused cost one commit
   * (BEGIN/COMMIT are a large part of a change's cost on the embedded PGlite). All or none are written.
   */
  async transitions(ts: readonly AlertTransition[]): Promise<TransitionResult[]> {
    return this.db.transaction(async (tx) => {
      const out: TransitionResult[] = [];
      for (const t of ts) out.push(await this.apply(tx, t));
      return out;
    });
  }

  private async apply(tx: Queryable, t: AlertTransition): Promise<TransitionResult> {
    const [changed] = await tx.query<ChangedRow>(UPDATE_EXISTING, [
      t.rule,
      t.device,
      t.state,
      t.value,
      t.at,
      t.note ?? null,
      SILENCED_NOTE,
    ]);
    let row: AlertRow;
    let prevState: AlertState | undefined;
    let notifies: boolean;
    let silenced: boolean;
    if (changed) {
      row = changed;
      prevState = changed.prev_state;
      notifies = changed.notifies;
      silenced = changed.silenced;
    } else {
      // The alert's first change: no row to lock yet (the unique key makes a concurrent first insert fail whole).
      [row] = (await tx.query<AlertRow>(
        `INSERT INTO alerts (rule_id, device_id, department_id, state, value, since, fired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${ALERT_COLUMNS}`,
        [t.rule, t.device, t.department, t.state, t.value, t.at, t.state === 'firing' ? t.at : null],
      )) as [AlertRow];
      // Only what a receiver must hear about: a firing, and the resolution of an alert that fired.
      notifies = t.state === 'firing';
      silenced = notifies && (await this.silenced(tx, toAlert(row)));
      await tx.query('INSERT INTO alert_history (alert_id, at, state, value, note) VALUES ($1, $2, $3, $4, $5)', [
        row.id,
        t.at,
        t.state,
        t.value,
        t.note ?? (silenced ? SILENCED_NOTE : null),
      ]);
    }
    const alert = toAlert(row);
    let deliveries = 0;
    if (notifies && !silenced && t.notify.length > 0) {
      const body = t.body(alert);
      for (const [i, n] of t.notify.entries()) {
        // One key per alert, episode, state and receiver: a receiver can drop a repeat it already handled.
        const key = `alert-${alert.id}-${alert.episode}-${t.state}-${i}`;
        const at = await this.groupTime(tx, t, n.url);
        const inserted = await tx.query(
          `INSERT INTO alert_deliveries (alert_id, idempotency_key, url, secret, body, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()))
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
          [alert.id, key, n.url, n.secret, body, at],
        );
        deliveries += inserted.length;
      }
    }
    return { alert, silenced, deliveries, changed: prevState !== t.state };
  }

  /**
   * When a grouped delivery goes out: with the group of this rule, receiver and state still waiting (so the notifier
   * finds them due together and sends one message), else after the group wait. Null: at once.
   */
  private async groupTime(tx: Queryable, t: AlertTransition, url: string): Promise<Date | null> {
    if (!t.groupWaitMs) return null;
    const [open] = await tx.query<{ at: Date | null }>(
      `SELECT min(d.next_attempt_at) AS at FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
       WHERE a.rule_id = $1 AND d.url = $2 AND d.state = 'pending' AND d.attempts = 0
         AND d.next_attempt_at > now() AND d.idempotency_key LIKE '%-' || $3 || '-%'`,
      [t.rule, url, t.state],
    );
    return open?.at ?? new Date(t.at.getTime() + t.groupWaitMs);
  }

  private async silenced(tx: Queryable, a: Alert): Promise<boolean> {
    const rows = await tx.query(
      `SELECT 1 FROM silences WHERE department_id = $1 AND ends_at > now()
       AND (rule_id IS NULL OR rule_id = $2) AND (device_id IS NULL OR device_id = $3) LIMIT 1`,
      [a.department, a.rule, a.device],
    );
    return rows.length > 0;
  }

  /** Alerts that are pending or firing: the evaluator's state after a restart. */
  async active(): Promise<Alert[]> {
    const rows = await this.db.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved'`);
    return rows.map(toAlert);
  }

  async list(f: AlertFilter): Promise<Alert[]> {
    const rows = await this.db.query<AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM alerts
       WHERE ($1::text IS NULL OR department_id = $1) AND ($2::text IS NULL OR state = $2)
         AND ($3::text IS NULL OR rule_id = $3) AND ($4::text IS NULL OR device_id = $4)
         AND ($5::timestamptz IS NULL OR updated_at >= $5) AND ($6::bigint IS NULL OR id < $6)
       ORDER BY id DESC LIMIT $7`,
      [
        f.department ?? null,
        f.state ?? null,
        f.rule ?? null,
        f.device ?? null,
        f.since ?? null,
        f.before ?? null,
        f.limit,
      ],
    );
    return rows.map(toAlert);
  }

  /** The alert; a department's key sees only its own. */
  async get(id: number, department?: string): Promise<Alert | undefined> {
    const [r] = await this.db.query<AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1 AND ($2::text IS NULL OR department_id = $2)`,
      [id, department ?? null],
    );
    return r && toAlert(r);
  }

  async history(id: number, limit: number): Promise<AlertHistoryEntry[]> {
    const rows = await this.db.query<{ at: Date; state: string; value: number | null; note: string | null }>(
      'SELECT at, state, value, note FROM alert_history WHERE alert_id = $1 ORDER BY id LIMIT $2',
      [id, limit],
    );
    return rows.map((r) => ({ at: r.at.toISOString(), state: r.state, value: r.value, note: r.note }));
  }

  async acknowledge(id: number, department: string | undefined, by: string | null, note: string): Promise<Alert> {
    return this.db.transaction(async (tx) => {
      const [r] = await tx.query<AlertRow>(
        `UPDATE alerts SET acked_at = now(), acked_by = $3, ack_note = $4, updated_at = now()
         WHERE id = $1 AND ($2::text IS NULL OR department_id = $2) RETURNING ${ALERT_COLUMNS}`,
        [id, department ?? null, by, storableText(note)],
      );
      if (!r) throw notFound('alert', String(id), 'SUS_ERR_ALERT_NOT_FOUND');
      await tx.query(`INSERT INTO alert_history (alert_id, state, value, note) VALUES ($1, 'acknowledged', $2, $3)`, [
        id,
        r.value,
        storableText(note),
      ]);
      return toAlert(r);
    });
  }

  // ---- deliveries ---------------------------------------------------------------------------------------------

  async deliveries(alert: number, limit: number): Promise<Delivery[]> {
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id = $1 ORDER BY id LIMIT $2`,
      [alert, limit],
    );
    return rows.map(toDelivery);
  }

  /** Deliveries due now, oldest first (the notifier keeps each receiver's order). */
  async due(limit: number): Promise<OutgoingDelivery[]> {
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries WHERE state = 'pending' ORDER BY id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ ...toDelivery(r), secret: r.secret, body: r.body }));
  }

  async delivered(id: number, attempts: number): Promise<void> {
    await this.db.query(
      `UPDATE alert_deliveries SET state = 'delivered', attempts = $2, delivered_at = now(), last_error = NULL WHERE id = $1`,
      [id, attempts],
    );
  }

  /** A failed attempt: retried at `next`, or a dead letter when `next` is null. */
  async failed(id: number, attempts: number, error: string, next: Date | null): Promise<void> {
    await this.db.query(
      `UPDATE alert_deliveries SET attempts = $2, last_error = $3, state = CASE WHEN $4::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
         next_attempt_at = COALESCE($4, next_attempt_at) WHERE id = $1`,
      [id, attempts, storableText(error.slice(0, 500)), next],
    );
  }

  /** Sends a dead delivery again (its department's, or any for platform-wide keys); false when there is none. */
  async resend(id: number, department: string | undefined): Promise<Delivery | undefined> {
    const [r] = await this.db.query<DeliveryRow>(
      `UPDATE alert_deliveries d SET state = 'pending', attempts = 0, next_attempt_at = now()
       FROM alerts a WHERE d.id = $1 AND a.id = d.alert_id AND d.state = 'dead'
         AND ($2::text IS NULL OR a.department_id = $2)
       RETURNING d.id, d.alert_id, d.idempotency_key, d.url, d.secret, d.body, d.state, d.attempts, d.last_error,
         d.created_at, d.next_attempt_at, d.delivered_at`,
      [id, department ?? null],
    );
    return r && toDelivery(r);
  }

  async delivery(id: number, department: string | undefined): Promise<Delivery | undefined> {
    const [r] = await this.db.query<DeliveryRow>(
      `SELECT d.id, d.alert_id, d.idempotency_key, d.url, d.secret, d.body, d.state, d.attempts, d.last_error,
         d.created_at, d.next_attempt_at, d.delivered_at
       FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = $1 AND ($2::text IS NULL OR a.department_id = $2)`,
      [id, department ?? null],
    );
    return r && toDelivery(r);
  }

  // ---- silences -----------------------------------------------------------------------------------------------

  async createSilence(s: Omit<Silence, 'id' | 'createdAt'>): Promise<Silence> {
    const [r] = await this.db.query<SilenceRow>(
      `INSERT INTO silences (id, department_id, rule_id, device_id, reason, ends_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, department_id, rule_id, device_id, reason, ends_at, created_by, created_at`,
      [`silence_${randomBytes(6).toString('hex')}`, s.department, s.rule, s.device, s.reason, s.endsAt, s.createdBy],
    );
    return toSilence(r!);
  }

  /** Silences of a department (every department's for platform-wide keys); `active` only those not yet ended. */
  async silences(department: string | undefined, active: boolean): Promise<Silence[]> {
    const rows = await this.db.query<SilenceRow>(
      `SELECT id, department_id, rule_id, device_id, reason, ends_at, created_by, created_at FROM silences
       WHERE ($1::text IS NULL OR department_id = $1) AND (NOT $2 OR ends_at > now()) ORDER BY created_at, id`,
      [department ?? null, active],
    );
    return rows.map(toSilence);
  }

  /** Ends a silence now (kept for the record); undefined when the department has none of this id. */
  async endSilence(id: string, department: string | undefined): Promise<Silence> {
    const [r] = await this.db.query<SilenceRow>(
      `UPDATE silences SET ends_at = LEAST(ends_at, now()) WHERE id = $1 AND ($2::text IS NULL OR department_id = $2)
       RETURNING id, department_id, rule_id, device_id, reason, ends_at, created_by, created_at`,
      [id, department ?? null],
    );
    if (!r) throw notFound('silence', id, 'SUS_ERR_SILENCE_NOT_FOUND');
    return toSilence(r);
  }
}
