import type { Db } from './db.ts';
import type { DeadLetter, DeadLetterFilter, DeadLetterReason, NewDeadLetter } from './types.ts';

/** `new`: waiting for a fix; `replayed`: a replay got every value in; `discarded`: an operator gave up on it. */
export const DEAD_LETTER_STATUSES = ['new', 'replayed', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export interface IngestDeadLetterEntry extends DeadLetter {
  /** Payload format ingest decoded it with (null: none applied, e.g. an unknown channel). */
  format: string | null;
  status: DeadLetterStatus;
  resolvedAt: string | null;
  replays: number;
}

export interface IngestDeadLetterFilter extends DeadLetterFilter {
  status?: DeadLetterStatus;
  /** Only entries of these devices (a department key's own devices). */
  devices?: string[];
}

/** What a replay needs: the raw payload bytes and where they came from. */
export interface ReplayableDeadLetter {
  id: number;
  source: string;
  topic: string | null;
  device: string | null;
  format: string | null;
  status: DeadLetterStatus;
  payload: Buffer;
  truncated: boolean;
  receivedAt: Date;
}

interface Row {
  id: number;
  received_at: Date;
  source: string;
  topic: string | null;
  device_id: string | null;
  reasons: DeadLetterReason[];
  payload: Uint8Array;
  payload_size: number;
  truncated: boolean;
  format: string | null;
  status: DeadLetterStatus;
  resolved_at: Date | null;
  replays: number;
}

const COLUMNS =
  'id, received_at, source, topic, device_id, reasons, payload, payload_size, truncated, format, status, resolved_at, replays';

/** PostgreSQL text and jsonb cannot hold U+0000; a payload full of NULs must still leave a readable entry. */
const noNul = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s);
const cleanReasons = (reasons: readonly DeadLetterReason[]): DeadLetterReason[] =>
  reasons.map((r) =>
    r.field === undefined
      ? { code: noNul(r.code), message: noNul(r.message) }
      : { code: noNul(r.code), message: noNul(r.message), field: noNul(r.field) },
  );
const optText = (s: string | null | undefined): string | null => (s == null ? null : noNul(s));

function toEntry(r: Row): IngestDeadLetterEntry {
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
    format: r.format,
    status: r.status,
    resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
    replays: r.replays,
  };
}

/**
 * The dead-letter store of ingest: files rejected messages (bounded raw payload, reasons, format), lists them with
 * filters, and records replays and discards. Shares the registry's connection (a sibling store of registry.ts).
 */
export class DeadLetterStore {
  constructor(
    private readonly db: Db,
    private readonly rawBytes = 16 * 1024,
  ) {}

  async add(d: NewDeadLetter & { format?: string }): Promise<number> {
    const truncated = d.payload.length > this.rawBytes;
    const [r] = await this.db.query<{ id: number }>(
      `INSERT INTO dead_letters (received_at, source, topic, device_id, reasons, payload, payload_size, truncated, format)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        d.receivedAt ?? new Date(),
        noNul(d.source),
        optText(d.topic),
        optText(d.device),
        JSON.stringify(cleanReasons(d.reasons)),
        truncated ? d.payload.subarray(0, this.rawBytes) : d.payload,
        d.payload.length,
        truncated,
        d.format ?? null,
      ],
    );
    return r!.id;
  }

  async list(f: IngestDeadLetterFilter): Promise<IngestDeadLetterEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (f.device !== undefined) add('device_id = ?', f.device);
    if (f.devices !== undefined) add('device_id = ANY(?::text[])', f.devices);
    if (f.source !== undefined) add('source = ?', f.source);
    if (f.status !== undefined) add('status = ?', f.status);
    if (f.before !== undefined) add('id < ?', f.before);
    if (f.since !== undefined) add('received_at >= ?', f.since);
    if (f.reason !== undefined) add('reasons @> ?::jsonb', JSON.stringify([{ code: f.reason }]));
    params.push(f.limit);
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toEntry);
  }

  async get(id: number): Promise<IngestDeadLetterEntry | undefined> {
    const [r] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1`, [id]);
    return r ? toEntry(r) : undefined;
  }

  async getForReplay(id: number): Promise<ReplayableDeadLetter | undefined> {
    const [r] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1`, [id]);
    if (!r) return undefined;
    return {
      id: r.id,
      source: r.source,
      topic: r.topic,
      device: r.device_id,
      format: r.format,
      status: r.status,
      payload: Buffer.from(r.payload),
      truncated: r.truncated,
      receivedAt: r.received_at,
    };
  }

  /** Records a replay: `replayed` when everything got in, else the entry stays `new` with the latest reasons. */
  async recordReplay(id: number, reasons: DeadLetterReason[]): Promise<void> {
    if (reasons.length === 0) {
      await this.db.query(
        `UPDATE dead_letters SET status = 'replayed', resolved_at = now(), replays = replays + 1 WHERE id = $1`,
        [id],
      );
    } else {
      await this.db.query('UPDATE dead_letters SET reasons = $2, replays = replays + 1 WHERE id = $1', [
        id,
        JSON.stringify(cleanReasons(reasons)),
      ]);
    }
  }

  /** Marks an entry discarded (kept for the record, out of the `new` queue); false when it does not exist. */
  async discard(id: number): Promise<boolean> {
    const rows = await this.db.query<{ id: number }>(
      `UPDATE dead_letters SET status = 'discarded', resolved_at = now() WHERE id = $1 RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }
}
