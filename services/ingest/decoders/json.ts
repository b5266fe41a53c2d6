import { REASON, reason } from '../reasons.ts';
import type { DecodeResult } from './types.ts';

/** Parses a JSON payload; on failure the result already holds the dead-letter reason. */
export function parseJson(payload: Buffer): { ok: true; json: unknown } | Extract<DecodeResult, { ok: false }> {
  try {
    return { ok: true, json: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return {
      ok: false,
      reasons: [reason(REASON.MALFORMED_JSON, `payload is not JSON: ${(err as Error).message}`)],
    };
  }
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
