import { REASON, reason } from '../reasons.ts';
import type { DecodeResult } from './types.ts';

/**
 * Deepest nesting a JSON payload may have. Real uplinks nest a handful of levels (The Things Stack's, with a decoded
 * payload of its own, about eight); a payload of 250,000 brackets parses, but every later walk over it (zod, a
 * String() of a value) risks a stack overflow and costs far more than a message should.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** The deepest bracket nesting of a JSON text, strings skipped; stops counting once past `limit`. One pass, no allocation. */
export function jsonDepth(bytes: Uint8Array, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      // Skip the string: a backslash escapes the byte after it (multi-byte UTF-8 never contains 0x22 or 0x5c).
      for (i++; i < bytes.length && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) i++;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return deepest;
}

// JSON.parse keeps a `__proto__` key as an own property, but zod drops it from every record it copies: the value
// would vanish without a reason. No payload format has such a field; a message naming one is refused whole.
const PROTO_KEY = Buffer.from('"__proto__"');

/** Parses a JSON payload; on failure the result already holds the dead-letter reason. */
export function parseJson(payload: Buffer): { ok: true; json: unknown } | Extract<DecodeResult, { ok: false }> {
  const fail = (r: ReturnType<typeof reason>) => ({ ok: false as const, reasons: [r] });
  if (jsonDepth(payload) > MAX_JSON_DEPTH) {
    return fail(reason(REASON.INVALID_MESSAGE, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return fail(reason(REASON.MALFORMED_JSON, `payload is not JSON: ${(err as Error).message}`));
  }
  if (payload.includes(PROTO_KEY)) {
    return fail(reason(REASON.INVALID_MESSAGE, "the name '__proto__' is not allowed in a payload"));
  }
  return { ok: true, json };
}

/** The best gateway of a LoRaWAN uplink: strongest RSSI (the one a technician cares about for coverage). */
export function bestGateway<T extends { rssi?: unknown }>(gateways: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const g of gateways) {
    if (typeof g.rssi !== 'number') continue;
    if (!best || g.rssi > (best.rssi as number)) best = g;
  }
  return best;
}
