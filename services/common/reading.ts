import { z } from 'zod';

/** One normalised reading: what ingest writes, what the API and the live stream hand out. */
export interface Reading {
  device: string;
  quantity: string;
  value: number;
  /** Canonical catalogue unit. */
  unit: string;
  /** Epoch milliseconds. */
  time: number;
  /** What ingest marked about it (out_of_range, time_replaced), stored as the `flags` field; absent when nothing. */
  flags?: readonly string[];
}

/** Tags of a stored reading (DESIGN.md storage model). */
export interface ReadingTags {
  device: string;
  department: string;
  district: string;
  device_type: string;
  source: string;
}

export const MAX_BATCH_MESSAGES = 1000;
export const MAX_VALUES_PER_MESSAGE = 64;

/**
 * The canonical reading message of DESIGN.md. Values stay `unknown` here so that ingest can give each bad value
 * its own reason code (a string, a null, an infinity) instead of failing the whole message on a type error.
 */
export const CanonicalMessageSchema = z.looseObject({
  time: z.union([z.number(), z.string()]).optional(),
  seq: z.number().int().nonnegative().optional(),
  values: z
    .record(z.string().min(1).max(64), z.unknown())
    .refine((v) => Object.keys(v).length > 0, 'values must hold at least one quantity')
    .refine((v) => Object.keys(v).length <= MAX_VALUES_PER_MESSAGE, `at most ${MAX_VALUES_PER_MESSAGE} values`),
  units: z.record(z.string(), z.string().max(32)).optional(),
});

export const CanonicalBatchSchema = z.array(CanonicalMessageSchema).min(1).max(MAX_BATCH_MESSAGES);

export type CanonicalMessage = z.infer<typeof CanonicalMessageSchema>;

/** A JSON object (not an array, not null). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The shape devices send, checked without the schema's per-call copies (it was the largest single cost of the
 * message path in bench:ingest). True only for messages CanonicalMessageSchema accepts unchanged, which a property
 * test holds it to; everything else goes through the schema, which stays the authority and words the errors.
 */
export function isPlainCanonicalMessage(v: unknown): v is CanonicalMessage {
  if (!isRecord(v)) return false;
  const { time, seq, values, units } = v;
  if (time !== undefined && typeof time !== 'string' && !(typeof time === 'number' && Number.isFinite(time))) {
    return false;
  }
  if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)) return false;
  if (!isRecord(values)) return false;
  let n = 0;
  for (const key in values) {
    // `__proto__` and friends: left to the schema, which copies records its own way.
    if (key.length === 0 || key.length > 64 || key === '__proto__' || !Object.hasOwn(values, key)) return false;
    n++;
  }
  if (n === 0 || n > MAX_VALUES_PER_MESSAGE) return false;
  if (units !== undefined) {
    if (!isRecord(units)) return false;
    for (const key in units) {
      const unit = units[key];
      if (key === '__proto__' || !Object.hasOwn(units, key) || typeof unit !== 'string' || unit.length > 32) {
        return false;
      }
    }
  }
  return Object.getPrototypeOf(v) === Object.prototype;
}
