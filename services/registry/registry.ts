import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { conflict, notFound, SusError } from '../common/errors.ts';
import type { Db } from './db.ts';
import { hashToken, newToken, verifyToken } from './secrets.ts';
import type {
  ApiKey,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterReason,
  Department,
  Device,
  NewDeadLetter,
  NewDevice,
  Scope,
} from './types.ts';

interface DeviceRow {
  id: string;
  name: string;
  department_id: string;
  type: string;
  district: string | null;
  lat: number | null;
  lon: number | null;
  secret_hash: string;
  created_at: Date;
  last_seen_at: Date | null;
}

interface KeyRow {
  id: string;
  name: string;
  department_id: string | null;
  scopes: string[];
  created_at: Date;
  revoked_at: Date | null;
}

interface DeadLetterRow {
  id: number;
  received_at: Date;
  source: string;
  topic: string | null;
  device_id: string | null;
  reasons: DeadLetterReason[];
  payload: Uint8Array;
  payload_size: number;
  truncated: boolean;
}

const DEVICE_COLUMNS = 'id, name, department_id, type, district, lat, lon, secret_hash, created_at, last_seen_at';

const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  name: r.name,
  department: r.department_id,
  type: r.type,
  district: r.district,
  lat: r.lat,
  lon: r.lon,
  createdAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at ? r.last_seen_at.toISOString() : null,
});

const toKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  name: r.name,
  department: r.department_id,
  scopes: r.scopes as Scope[],
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
});

function toDeadLetter(r: DeadLetterRow): DeadLetter {
  const bytes = Buffer.from(r.payload);
  const text = bytes.toString('utf8');
  // Round-trip check: only call it text when decoding lost nothing (binary payloads such as CBOR go as base64).
  const isText = Buffer.byteLength(text, 'utf8') === bytes.length && !text.includes('\uFFFD');
  return {
    id: r.id,
    receivedAt: r.received_at.toISOString(),
    source: r.source,
    topic: r.topic,
    device: r.device_id,
    reasons: r.reasons,
    payload: isText ? text : bytes.toString('base64'),
    payloadEncoding: isText ? 'utf8' : 'base64',
    payloadSize: r.payload_size,
    truncated: r.truncated,
  };
}

function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export type RegistryEvent = { type: 'device-changed'; id: string };

/**
 * The relational store behind every layer: departments, devices and their credentials, API keys, dead letters.
 * Emits `change` events so caches in other layers (ingest enrichment) can drop stale entries.
 */
export class Registry extends EventEmitter<{ change: [RegistryEvent] }> {
  constructor(
    /** Sibling stores of the registry layer (services/registry/*) share this connection; other layers never touch it. */
    readonly db: Db,
    private readonly opts: { deadLetterRawBytes: number } = { deadLetterRawBytes: 16 * 1024 },
  ) {
    super();
  }

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
      if (pgCode(err) === '23505')
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

  async listDevices(filter: { department?: string } = {}): Promise<Device[]> {
    const rows = filter.department
      ? await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE department_id = $1 ORDER BY id`, [
          filter.department,
        ])
      : await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`);
    return rows.map(toDevice);
  }

  async getDevice(id: string): Promise<Device | undefined> {
    const [r] = await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
    return r && toDevice(r);
  }

  /** Registers a device; the returned secret is shown once and stored only as a hash. */
  async createDevice(d: NewDevice): Promise<{ device: Device; secret: string }> {
    const id = d.id ?? `${d.type.replace(/[^a-z0-9]+/g, '-')}-${randomBytes(4).toString('hex')}`;
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
      if (pgCode(err) === '23505')
        throw conflict(`device '${id}' already exists`, 'SUS_ERR_DEVICE_EXISTS', { device: id });
      if (pgCode(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${d.department}' does not exist`, 400, {
          field: 'department',
        });
      throw err;
    }
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
    const [r] = await this.db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
    if (!r) return undefined;
    return verifyToken(secret, r.secret_hash) ? toDevice(r) : undefined;
  }

  /** One statement for many devices: last-seen is updated in batches, never per message. */
  async touchDevices(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(
      'UPDATE devices SET last_seen_at = $2 WHERE id = ANY($1::text[]) AND (last_seen_at IS NULL OR last_seen_at < $2)',
      [ids, at],
    );
  }

  // ---- API keys ----------------------------------------------------------------------------------------------

  async createApiKey(k: {
    name: string;
    department: string | null;
    scopes: Scope[];
  }): Promise<{ key: string; record: ApiKey }> {
    const token = newToken('sus_');
    const record = await this.insertKey(k, token);
    return { key: token, record };
  }

  /** Registers a key the operator chose (SUS_ADMIN_KEY); idempotent for the same token. */
  async ensureApiKey(k: { name: string; department: string | null; scopes: Scope[] }, token: string): Promise<void> {
    await this.db.query(
      `INSERT INTO api_keys (id, name, department_id, scopes, key_hash) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`,
      [`key_${randomBytes(6).toString('hex')}`, k.name, k.department, k.scopes, hashToken(token)],
    );
  }

  async hasActiveKeyNamed(name: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL', [name]);
    return rows.length > 0;
  }

  /** Looks a presented key up by its hash (a unique index): the token itself is never stored. */
  async findApiKey(token: string): Promise<ApiKey | undefined> {
    const [r] = await this.db.query<KeyRow>(
      'SELECT id, name, department_id, scopes, created_at, revoked_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [hashToken(token)],
    );
    return r && toKey(r);
  }

  private async insertKey(
    k: { name: string; department: string | null; scopes: Scope[] },
    token: string,
  ): Promise<ApiKey> {
    const id = `key_${randomBytes(6).toString('hex')}`;
    try {
      const [r] = await this.db.query<KeyRow>(
        `INSERT INTO api_keys (id, name, department_id, scopes, key_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, department_id, scopes, created_at, revoked_at`,
        [id, k.name, k.department, k.scopes, hashToken(token)],
      );
      return toKey(r!);
    } catch (err) {
      if (pgCode(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${k.department}' does not exist`, 400, {
          field: 'department',
        });
      throw err;
    }
  }

  // ---- dead letters ------------------------------------------------------------------------------------------

  async addDeadLetter(d: NewDeadLetter): Promise<number> {
    const limit = this.opts.deadLetterRawBytes;
    const truncated = d.payload.length > limit;
    const [r] = await this.db.query<{ id: number }>(
      `INSERT INTO dead_letters (received_at, source, topic, device_id, reasons, payload, payload_size, truncated)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [
        d.receivedAt ?? new Date(),
        d.source,
        d.topic ?? null,
        d.device ?? null,
        JSON.stringify(d.reasons),
        truncated ? d.payload.subarray(0, limit) : d.payload,
        d.payload.length,
        truncated,
      ],
    );
    return r!.id;
  }

  async listDeadLetters(f: DeadLetterFilter): Promise<DeadLetter[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (f.device !== undefined) add('device_id = ?', f.device);
    if (f.source !== undefined) add('source = ?', f.source);
    if (f.before !== undefined) add('id < ?', f.before);
    if (f.since !== undefined) add('received_at >= ?', f.since);
    if (f.reason !== undefined) add('reasons @> ?::jsonb', JSON.stringify([{ code: f.reason }]));
    params.push(f.limit);
    const rows = await this.db.query<DeadLetterRow>(
      `SELECT id, received_at, source, topic, device_id, reasons, payload, payload_size, truncated FROM dead_letters
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toDeadLetter);
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
