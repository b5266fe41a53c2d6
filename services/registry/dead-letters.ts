import { type Db, storableText } from './db.ts';
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
  /** Further rejects of the same device in its rate window, counted here instead of filed one by one. */
  suppressed: number;
}

/** A dead letter as ingest files it. */
export interface NewIngestDeadLetter extends NewDeadLetter {
  format?: string;
  /** A summary row of rejects beyond the device's dead-letter rate: how many it stands for. */
  suppressed?: number;
}

/** Bounds of one row: raw payload bytes kept, reasons kept (the rest are counted in a last reason). */
export interface DeadLetterBounds {
  rawBytes: number;
  maxReasons: number;
}

/** The reason that stands for the reasons a row did not keep. */
export const REASONS_OMITTED = 'DEAD_LETTER_REASONS_OMITTED';
// Lengths kept of a reason's text: a payload can name a value with a 200 KB key, and every reason repeats it.
const MAX_MESSAGE_CHARS = 1024;
const MAX_FIELD_CHARS = 256;
const MAX_CODE_CHARS = 64;
const MAX_TOPIC_CHARS = 1024;

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
  suppressed: number;
}

const COLUMNS =
  'id, received_at, source, topic, device_id, reasons, payload, payload_size, truncated, format, status, resolved_at, replays, suppressed';

/** PostgreSQL text and jsonb cannot hold U+0000 or lone surrogates; a hostile payload still leaves an entry. */
const noNul = storableText;
/** NUL-free and at most `max` characters (the cut marked with an ellipsis). */
const text = (s: string, max: number): string => noNul(s.length > max ? `${s.slice(0, max - 1)}…` : s);
const optText = (s: string | null | undefined, max = MAX_TOPIC_CHARS): string | null =>
  s == null ? null : text(s, max);

/**
 * The reasons a row keeps: the first `max`, each of bounded length, and when there were more, one last reason that
 * counts the rest by code (a payload with 20,000 unknown keys gives 20,000 reasons: megabytes of jsonb per row).
 */
export function boundReasons(reasons: readonly DeadLetterReason[], max: number): DeadLetterReason[] {
  const kept = reasons.slice(0, max).map((r) => {
    const code = text(r.code, MAX_CODE_CHARS);
    const message = text(r.message, MAX_MESSAGE_CHARS);
    return r.field === undefined ? { code, message } : { code, message, field: text(r.field, MAX_FIELD_CHARS) };
  });
  if (reasons.length <= max) return kept;
  const byCode = new Map<string, number>();
  for (let i = max; i < reasons.length; i++) {
    const code = text(reasons[i]!.code, MAX_CODE_CHARS);
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }
  const counts = [...byCode]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, 20)
    .map(([code, n]) => `${code} ×${n}`)
    .join(', ');
  const omitted = reasons.length - max;
  kept.push({ code: REASONS_OMITTED, message: `${omitted} more reasons not kept: ${counts}` });
  return kept;
}

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
    suppressed: r.suppressed,
  };
}

/**
 * The dead-letter store of ingest: files rejected messages (bounded raw payload, reasons, format), lists them with
 * filters, and records replays and discards. Shares the registry's connection (a sibling store of registry.ts).
 */
export class DeadLetterStore {
  private readonly bounds: DeadLetterBounds;

  constructor(
    private readonly db: Db,
    bounds: Partial<DeadLetterBounds> = {},
  ) {
    this.bounds = { rawBytes: bounds.rawBytes ?? 16 * 1024, maxReasons: bounds.maxReasons ?? 100 };
  }

  async add(d: NewIngestDeadLetter): Promise<number> {
    const { rawBytes, maxReasons } = this.bounds;
    const truncated = d.payload.length > rawBytes;
    const [r] = await this.db.query<{ id: number }>(
      `INSERT INTO dead_letters
         (received_at, source, topic, device_id, reasons, payload, payload_size, truncated, format, suppressed)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [
        d.receivedAt ?? new Date(),
        text(d.source, 128),
        optText(d.topic),
        optText(d.device, 256),
        JSON.stringify(boundReasons(d.reasons, maxReasons)),
        truncated ? d.payload.subarray(0, rawBytes) : d.payload,
        d.payload.length,
        truncated,
        optText(d.format, 64),
        d.suppressed ?? 0,
      ],
    );
    return r!.id;
  }

  /** Brings a summary row of suppressed rejects up to date: its count and the reasons that say what it stands for. */
  async updateSuppressed(id: number, suppressed: number, reasons: DeadLetterReason[]): Promise<void> {
    await this.db.query('UPDATE dead_letters SET suppressed = $2, reasons = $3 WHERE id = $1', [
      id,
      suppressed,
      JSON.stringify(boundReasons(reasons, this.bounds.maxReasons)),
    ]);
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
        JSON.stringify(boundReasons(reasons, this.bounds.maxReasons)),
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
