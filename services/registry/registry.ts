import { EventEmitter } from 'node:events';
import { conflict, notFound, SusError } from '../common/errors.ts';
import { generatedDeviceId } from '../common/grammar.ts';
import { AlertStore } from './alerts.ts';
import { AuditLog } from './audit.ts';
import { ClaimStore } from './claims.ts';
import { type Db, sqlState } from './db.ts';
import { type DeadLetterBounds, DeadLetterStore } from './dead-letters.ts';
import { DEVICE_COLUMNS, type DeviceRow, toDevice } from './device-row.ts';
import { DeviceTypeStore } from './device-types.ts';
import { DownlinkStore } from './downlinks.ts';
import { EntityQueries } from './entity-query.ts';
import { GrantStore } from './grants.ts';
import { KeyStore } from './keys.ts';
import { LatestValueStore } from './latest-values.ts';
import { LookupBatch } from './lookup-batch.ts';
import { RollupStore } from './rollups.ts';
import { RuleStore } from './rules.ts';
import { hashToken, newToken, verifyToken } from './secrets.ts';
import { ConsoleSessionStore, type SessionBounds } from './sessions.ts';
import type { Department, Device, NewDevice } from './types.ts';

/** A successful device login, as the broker needs it. */
export interface DeviceLogin {
  device: Device;
  /** A desired configuration the device has not acknowledged is stored: the broker sends it once the device is ready. */
  configPending: boolean;
}

interface LoginRow extends DeviceRow {
  config_pending: boolean;
}

/** A device was created, changed, rotated or decommissioned; an API key was revoked; a grant made or revoked; an alert rule changed. */
export type RegistryEvent =
  | { type: 'device-changed'; id: string }
  | { type: 'key-revoked'; id: string }
  | { type: 'grant-changed'; id: string }
  | { type: 'rules-changed' };

/**
 * The relational store behind every layer and its one public surface: departments and devices here, everything
 * else in the stores it holds (keys, device types, claims, grants, audit, downlinks, dead letters). Emits `change`
 * events so caches in other layers (ingest enrichment, the broker's live sessions) can drop stale entries.
 */
export class Registry extends EventEmitter<{ change: [RegistryEvent] }> {
  /** API keys: minted, looked up, listed, revoked (a revocation emits `key-revoked`). */
  readonly keys: KeyStore;
  readonly deviceTypes: DeviceTypeStore;
  /** Claim codes for field provisioning. */
  readonly claims: ClaimStore;
  /** Data-sharing grants between departments and to the public. */
  readonly grants: GrantStore;
  readonly audit: AuditLog;
  /** Commands, desired configuration and the devices' answers. */
  readonly downlinks: DownlinkStore;
  /** Rejected messages: filed by ingest, listed, replayed and discarded through the API. */
  readonly deadLetters: DeadLetterStore;
  /** The newest value of every device × quantity: written by ingest, read by every API node. */
  readonly latest: LatestValueStore;
  /** Pages of devices, Datastreams and device types filtered in SQL (the SensorThings API's collections). */
  readonly entities: EntityQueries;
  /**
   * Device rows for logins: the concurrent logins of a reconnect storm share one query. Each row says whether a
   * desired configuration awaits the device, so a login needs no second query to learn that none does.
   */
  private readonly credentials = new LookupBatch<string, LoginRow>(async (ids) => {
    const rows = await this.db.query<LoginRow>(
      `SELECT ${DEVICE_COLUMNS}, EXISTS (SELECT 1 FROM device_desired_config c WHERE c.device_id = devices.id
         AND c.acked_version IS DISTINCT FROM c.version) AS config_pending
       FROM devices WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r]));
  });

  constructor(
    /** Sibling stores of the registry layer (services/registry/*) share this connection; other layers never touch it. */
    readonly db: Db,
    deadLetterBounds: Partial<DeadLetterBounds> = {},
    limits: { rulesPerDepartment?: number; sessions?: SessionBounds } = {},
  ) {
    super();
    this.keys = new KeyStore(db, (id) => this.emit('change', { type: 'key-revoked', id }));
    this.deviceTypes = new DeviceTypeStore(db);
    this.claims = new ClaimStore(db);
    this.grants = new GrantStore(db, (id) => this.emit('change', { type: 'grant-changed', id }));
    this.audit = new AuditLog(db);
    this.downlinks = new DownlinkStore(db);
    this.deadLetters = new DeadLetterStore(db, deadLetterBounds);
    this.latest = new LatestValueStore(db);
    this.entities = new EntityQueries(db);
    this.rules = new RuleStore(db, limits.rulesPerDepartment ?? 1000, () =>
      this.emit('change', { type: 'rules-changed' }),
    );
    this.alerts = new AlertStore(db);
    this.rollups = new RollupStore(db);
    this.sessions = new ConsoleSessionStore(db, limits.sessions);
  }

  /** Web console sessions and pending OpenID sign-ins: in the registry so every API node knows them. */
  readonly sessions: ConsoleSessionStore;

  /** Alert rules: kept through the API, evaluated by ingest. */
  readonly rules: RuleStore;
  /** Alerts, their history, webhook deliveries and silences. */
  readonly alerts: AlertStore;
  /** The rollup engine's checkpoint and dirty windows; the API reads how far rollups reach. */
  readonly rollups: RollupStore;

  get kind(): Db['kind'] {
    return this.db.kind;
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  // ---- departments -------------------------------------------------------------------------------------------

  async listDepartments(): Promise<Department[]> {
    const rows = await this.db.query<{ id: string; name: string; created_at: Date }>(
      'SELECT id, name, created_at FROM departments ORDER BY id',
    );
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() }));
  }

  async getDepartment(id: string): Promise<Department | undefined> {
    const [r] = await this.db.query<{ id: string; name: string; created_at: Date }>(
      'SELECT id, name, created_at FROM departments WHERE id = $1',
      [id],
    );
    return r && { id: r.id, name: r.name, createdAt: r.created_at.toISOString() };
  }

  async createDepartment(d: { id: string; name: string }): Promise<Department> {
    try {
      const [r] = await this.db.query<{ created_at: Date }>(
        'INSERT INTO departments (id, name) VALUES ($1, $2) RETURNING created_at',
        [d.id, d.name],
      );
      return { id: d.id, name: d.name, createdAt: r!.created_at.toISOString() };
    } catch (err) {
      if (sqlState(err) === '23505')
        throw conflict(`department '${d.id}' already exists`, 'SUS_ERR_DEPARTMENT_EXISTS', { id: d.id });
      throw err;
    }
  }

  /** Creates the department unless it exists (demo seeding, idempotent start-up). */
  async ensureDepartment(d: { id: string; name: string }): Promise<void> {
    await this.db.query('INSERT INTO departments (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [
      d.id,
      d.name,
    ]);
  }

  // ---- devices -----------------------------------------------------------------------------------------------

  /** Devices by id, of one department and/or one type, the first `limit` of them. */
  async listDevices(filter: { department?: string; type?: string; limit?: number } = {}): Promise<Device[]> {
    const params: unknown[] = [];
    const conds: string[] = [];
    if (filter.department) conds.push(`department_id = $${params.push(filter.department)}`);
    if (filter.type) conds.push(`type = $${params.push(filter.type)}`);
    const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
    const limit = filter.limit !== undefined ? ` LIMIT $${params.push(filter.limit)}` : '';
    const rows = await this.db.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices${where} ORDER BY id${limit}`,
      params,
    );
    return rows.map(toDevice);
  }

  async getDevice(id: string): Promise<Device | undefined> {
    const [r] = await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
    return r && toDevice(r);
  }

  /** The department of each of these ids that is a device (one query for a whole import). */
  async departmentsOf(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.query<{ id: string; department_id: string }>(
      'SELECT id, department_id FROM devices WHERE id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.department_id]));
  }

  /** Registers a device; the returned secret is shown once and stored only as a hash. */
  async createDevice(d: NewDevice): Promise<{ device: Device; secret: string }> {
    const id = d.id ?? generatedDeviceId(d.type);
    const secret = newToken();
    try {
      const [r] = await this.db.query<DeviceRow>(
        `INSERT INTO devices (id, name, department_id, type, district, lat, lon, secret_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${DEVICE_COLUMNS}`,
        [id, d.name, d.department, d.type, d.district ?? null, d.lat ?? null, d.lon ?? null, hashToken(secret)],
      );
      this.emit('change', { type: 'device-changed', id });
      return { device: toDevice(r!), secret };
    } catch (err) {
      if (sqlState(err) === '23505')
        throw conflict(`device '${id}' already exists`, 'SUS_ERR_DEVICE_EXISTS', { device: id });
      if (sqlState(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${d.department}' does not exist`, 400, {
          field: 'department',
        });
      throw err;
    }
  }

  /** The device unless it is unknown or decommissioned: what a certificate login, with no secret to verify, may use. */
  async getActiveDevice(id: string): Promise<Device | undefined> {
    const [r] = await this.db.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1 AND decommissioned_at IS NULL`,
      [id],
    );
    return r && toDevice(r);
  }

  /** Registers many devices in one transaction: all of them or none (bulk import). */
  async createDevices(list: Array<NewDevice & { id: string }>): Promise<Array<{ device: Device; secret: string }>> {
    const created = await this.db.transaction(async (tx) => {
      const out: Array<{ device: Device; secret: string }> = [];
      for (const d of list) {
        const secret = newToken();
        const [r] = await tx.query<DeviceRow>(
          `INSERT INTO devices (id, name, department_id, type, district, lat, lon, secret_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${DEVICE_COLUMNS}`,
          [d.id, d.name, d.department, d.type, d.district ?? null, d.lat ?? null, d.lon ?? null, hashToken(secret)],
        );
        out.push({ device: toDevice(r!), secret });
      }
      return out;
    });
    for (const c of created) this.emit('change', { type: 'device-changed', id: c.device.id });
    return created;
  }

  /** Changes descriptive fields; identity and credentials stay. */
  async updateDevice(
    id: string,
    patch: Partial<Pick<NewDevice, 'name' | 'type' | 'district' | 'lat' | 'lon'>>,
  ): Promise<Device> {
    const fields = (['name', 'type', 'district', 'lat', 'lon'] as const).filter((f) => patch[f] !== undefined);
    const sets = fields.map((f, i) => `${f} = $${i + 2}`);
    const [r] = sets.length
      ? await this.db.query<DeviceRow>(
          `UPDATE devices SET ${sets.join(', ')} WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
          [id, ...fields.map((f) => patch[f])],
        )
      : await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
    if (!r) throw notFound('device', id, 'SUS_ERR_DEVICE_NOT_FOUND');
    this.emit('change', { type: 'device-changed', id });
    return toDevice(r);
  }

  /**
   * Decommissions a device: its row and readings stay (history), its credentials stop working at once (the
   * stored hash is replaced by a value no secret hashes to).
   */
  async decommissionDevice(id: string): Promise<void> {
    const rows = await this.db.query(
      `UPDATE devices SET secret_hash = 'decommissioned', decommissioned_at = COALESCE(decommissioned_at, now())
       WHERE id = $1 RETURNING id`,
      [id],
    );
    if (rows.length === 0) throw notFound('device', id, 'SUS_ERR_DEVICE_NOT_FOUND');
    this.emit('change', { type: 'device-changed', id });
  }

  /** Decommission times of the given devices (only those that are decommissioned). */
  async decommissionedAt(ids: string[]): Promise<Map<string, string>> {
    const rows = await this.db.query<{ id: string; decommissioned_at: Date }>(
      'SELECT id, decommissioned_at FROM devices WHERE id = ANY($1::text[]) AND decommissioned_at IS NOT NULL',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.decommissioned_at.toISOString()]));
  }

  /** Issues a new secret; the old one stops working at once. */
  async rotateDeviceSecret(id: string): Promise<string> {
    const secret = newToken();
    const rows = await this.db.query('UPDATE devices SET secret_hash = $2 WHERE id = $1 RETURNING id', [
      id,
      hashToken(secret),
    ]);
    if (rows.length === 0) throw notFound('device', id, 'SUS_ERR_DEVICE_NOT_FOUND');
    this.emit('change', { type: 'device-changed', id });
    return secret;
  }

  /** The device when `secret` is its current one; `undefined` for an unknown device or a wrong secret. */
  async authenticateDevice(id: string, secret: string | Buffer): Promise<Device | undefined> {
    return (await this.loginDevice(id, secret))?.device;
  }

  /**
   * A device's login: the device when `secret` is its current one, and whether a desired configuration it has not
   * acknowledged awaits it (read in the same query as the credentials).
   */
  async loginDevice(id: string, secret: string | Buffer): Promise<DeviceLogin | undefined> {
    const r = await this.credentials.load(id);
    if (!r || !verifyToken(secret, r.secret_hash)) return undefined;
    return { device: toDevice(r), configPending: r.config_pending };
  }

  /** One statement for many devices: last-seen is updated in batches, never per message. */
  async touchDevices(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(
      'UPDATE devices SET last_seen_at = $2 WHERE id = ANY($1::text[]) AND (last_seen_at IS NULL OR last_seen_at < $2)',
      [ids, at],
    );
  }

  /** When each of these devices was last seen by any node (epoch ms); devices never seen are absent. */
  async lastSeenOf(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.query<{ id: string; last_seen_at: Date }>(
      'SELECT id, last_seen_at FROM devices WHERE id = ANY($1::text[]) AND last_seen_at IS NOT NULL',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.last_seen_at.getTime()]));
  }

  /** Device ids visible to a department, for filtering dead letters and readings. */
  async deviceIdsOf(department: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>('SELECT id FROM devices WHERE department_id = $1', [department]);
    return rows.map((r) => r.id);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
