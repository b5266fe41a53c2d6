import { randomBytes } from 'node:crypto';
import { conflict, notFound, SusError } from '../common/errors.ts';
import type { Rule } from '../common/rules.ts';
import { type Db, sqlState } from './db.ts';

interface Row {
  id: string;
  department_id: string;
  /** Fields added later are absent from rules stored before them. */
  spec: Omit<Rule, 'per' | 'groupS' | 'window'> & Partial<Pick<Rule, 'per' | 'groupS' | 'window'>>;
  grant_id: string | null;
  updated_at: Date;
}

const toRule = (r: Row): Rule & { updatedAt: string } => ({
  // Rules stored before a field existed read as its default.
  per: null,
  groupS: 0,
  window: null,
  ...r.spec,
  id: r.id,
  owner: r.department_id,
  grantId: r.grant_id,
  updatedAt: r.updated_at.toISOString(),
});

/** A server-chosen rule id: in the rule-id grammar (device-id alphabet). */
export const newRuleId = (): string => `rule-${randomBytes(5).toString('hex')}`;

/**
 * Alert rules as departments keep them: the normalised rule (services/common/rules.ts) as one jsonb document, with
 * its owner and grant as columns. `onChange` tells the in-process evaluator to recompile; other processes reload
 * on their own timer.
 */
export class RuleStore {
  constructor(
    private readonly db: Db,
    private readonly maxPerDepartment: number,
    private readonly onChange: () => void = () => undefined,
  ) {}

  async create(rule: Rule, createdBy: string | null): Promise<Rule> {
    const [{ n } = { n: 0 }] = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM alert_rules WHERE department_id = $1',
      [rule.owner],
    );
    if (n >= this.maxPerDepartment)
      throw conflict(
        `department '${rule.owner}' has ${n} rules, the most one department may keep (SUS_RULES_MAX_PER_DEPARTMENT)`,
        'SUS_ERR_RULE_LIMIT',
        { limit: this.maxPerDepartment },
      );
    try {
      const [r] = await this.db.query<Row>(
        `INSERT INTO alert_rules (id, department_id, name, spec, grant_id, created_by) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, department_id, spec, grant_id, updated_at`,
        [rule.id, rule.owner, rule.name, JSON.stringify(rule), rule.grantId, createdBy],
      );
      this.onChange();
      return toRule(r!);
    } catch (err) {
      if (sqlState(err) === '23505')
        throw conflict(`rule '${rule.id}' already exists`, 'SUS_ERR_RULE_EXISTS', { id: rule.id });
      if (sqlState(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${rule.owner}' does not exist`, 400, {
          field: 'owner',
        });
      throw err;
    }
  }

  /** Replaces a rule (same id and owner); `owner` undefined: any department's (platform-wide keys). */
  async replace(rule: Rule, owner: string | undefined): Promise<Rule> {
    const [r] = await this.db.query<Row>(
      `UPDATE alert_rules SET name = $2, spec = $3, grant_id = $4, updated_at = now()
       WHERE id = $1 AND ($5::text IS NULL OR department_id = $5) RETURNING id, department_id, spec, grant_id, updated_at`,
      [rule.id, rule.name, JSON.stringify(rule), rule.grantId, owner ?? null],
    );
    if (!r) throw notFound('rule', rule.id, 'SUS_ERR_RULE_NOT_FOUND');
    this.onChange();
    return toRule(r);
  }

  /** The rule; a department's key sees only its own (another's is reported as absent). */
  async get(id: string, owner?: string): Promise<Rule | undefined> {
    const [r] = await this.db.query<Row>(
      `SELECT id, department_id, spec, grant_id, updated_at FROM alert_rules
       WHERE id = $1 AND ($2::text IS NULL OR department_id = $2)`,
      [id, owner ?? null],
    );
    return r && toRule(r);
  }

  async list(owner?: string): Promise<Rule[]> {
    const rows = await this.db.query<Row>(
      `SELECT id, department_id, spec, grant_id, updated_at FROM alert_rules
       WHERE ($1::text IS NULL OR department_id = $1) ORDER BY id`,
      [owner ?? null],
    );
    return rows.map(toRule);
  }

  /** Deletes a rule and its alerts (their history and deliveries go with them). */
  async remove(id: string, owner?: string): Promise<void> {
    const rows = await this.db.query(
      'DELETE FROM alert_rules WHERE id = $1 AND ($2::text IS NULL OR department_id = $2) RETURNING id',
      [id, owner ?? null],
    );
    if (rows.length === 0) throw notFound('rule', id, 'SUS_ERR_RULE_NOT_FOUND');
    this.onChange();
  }

  /**
   * Makes the rules taken from a rules file (created by `source`) exactly `rules`: new ones created, changed ones
   * replaced, those gone from the file deleted; a rule of the same id made otherwise is a conflict.
   */
  async sync(rules: Rule[], source: string): Promise<{ created: number; updated: number; removed: number }> {
    const result = await this.db.transaction(async (tx) => {
      const existing = await tx.query<{ id: string; created_by: string | null }>(
        'SELECT id, created_by FROM alert_rules',
      );
      const ours = new Set(existing.filter((r) => r.created_by === source).map((r) => r.id));
      const theirs = new Set(existing.filter((r) => r.created_by !== source).map((r) => r.id));
      const clash = rules.find((r) => theirs.has(r.id));
      if (clash)
        throw conflict(`rule '${clash.id}' exists already and was not made by ${source}`, 'SUS_ERR_RULE_EXISTS');
      let created = 0;
      let updated = 0;
      for (const rule of rules) {
        const params = [rule.id, rule.owner, rule.name, JSON.stringify(rule), source];
        if (ours.has(rule.id)) {
          await tx.query(
            'UPDATE alert_rules SET department_id = $2, name = $3, spec = $4, updated_at = now() WHERE id = $1 AND created_by = $5',
            params,
          );
          updated++;
        } else {
          await tx.query(
            'INSERT INTO alert_rules (id, department_id, name, spec, created_by) VALUES ($1, $2, $3, $4, $5)',
            params,
          );
          created++;
        }
      }
      const keep = new Set(rules.map((r) => r.id));
      const gone = [...ours].filter((id) => !keep.has(id));
      if (gone.length > 0) await tx.query('DELETE FROM alert_rules WHERE id = ANY($1::text[])', [gone]);
      return { created, updated, removed: gone.length };
    });
    this.onChange();
    return result;
  }

  /** A fingerprint that changes whenever any rule does: another process's evaluator reloads when it differs. */
  async version(): Promise<string> {
    const [r] = await this.db.query<{ n: number; at: Date | null }>(
      'SELECT count(*)::int AS n, max(updated_at) AS at FROM alert_rules',
    );
    return `${r?.n ?? 0}@${r?.at?.toISOString() ?? ''}`;
  }
}
