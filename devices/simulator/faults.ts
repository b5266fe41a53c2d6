/**
 * Fault injection: what real fleets do to a platform. Every decision comes from the device's seeded rng, so a run
 * is reproducible; the plan only decides, the simulator acts (publishes twice, withholds, corrupts).
 */
import type { Rng } from './rng.ts';

export interface FaultOptions {
  /** Share of messages replaced by a malformed payload (0–1). */
  malformed?: number;
  /** Share of messages published twice with the same content (a QoS 1 redelivery after a lost PUBACK). */
  duplicates?: number;
  /** Share of devices whose clock is off by `clockSkewMs` (sign drawn per device). */
  clockSkewShare?: number;
  clockSkewMs?: number;
  /** Chance per reading that a device goes offline for `offlineReadings` readings, then sends them as one batch. */
  offline?: number;
  offlineReadings?: number;
}

export const MALFORMATIONS = [
  'truncated_json',
  'not_json',
  'wrong_type',
  'unknown_quantity',
  'no_values',
  'nan_literal',
] as const;
export type Malformation = (typeof MALFORMATIONS)[number];

/** A payload that ingest must refuse (dead-letter), never store. */
export function malformedPayload(kind: Malformation, time: number, seq: number): string {
  switch (kind) {
    case 'truncated_json':
      return `{"time":${time},"seq":${seq},"values":{"air_temperature":2`;
    case 'not_json':
      return `temperature=21.4;seq=${seq}`;
    case 'wrong_type':
      return JSON.stringify({ time, seq, values: { air_temperature: 'warm' } });
    case 'unknown_quantity':
      return JSON.stringify({ time, seq, values: { flux_capacitance: 1.21 } });
    case 'no_values':
      return JSON.stringify({ time, seq });
    case 'nan_literal':
      return `{"time":${time},"seq":${seq},"values":{"air_temperature":NaN}}`;
  }
}

function share(name: string, v: number | undefined): number {
  const x = v ?? 0;
  if (!(x >= 0 && x <= 1)) throw new RangeError(`fault ${name} must be a share in [0, 1], got ${v}`);
  return x;
}

/** What to do with one reading. */
export interface FaultDecision {
  malformed?: Malformation;
  duplicate: boolean;
  /** Withhold this reading: the device is offline; it goes out in the backlog batch later. */
  withhold: boolean;
  /** The backlog is due: send the withheld readings (and this one) as one batch. */
  flushBacklog: boolean;
}

/** Per-device fault state. */
export class DeviceFaults {
  readonly skewMs: number;
  private offlineLeft = 0;
  private readonly o: Required<FaultOptions>;

  constructor(
    options: FaultOptions,
    private readonly rng: Rng,
  ) {
    this.o = {
      malformed: share('malformed', options.malformed),
      duplicates: share('duplicates', options.duplicates),
      clockSkewShare: share('clockSkewShare', options.clockSkewShare),
      clockSkewMs: options.clockSkewMs ?? 0,
      offline: share('offline', options.offline),
      offlineReadings: Math.max(1, Math.floor(options.offlineReadings ?? 5)),
    };
    this.skewMs = rng() < this.o.clockSkewShare ? (rng() < 0.5 ? -1 : 1) * this.o.clockSkewMs : 0;
  }

  /** The device's idea of "now": a skewed clock is what a device without time sync reports. */
  clock(nowMs: number): number {
    return nowMs + this.skewMs;
  }

  decide(): FaultDecision {
    if (this.offlineLeft > 0) {
      this.offlineLeft--;
      return { duplicate: false, withhold: this.offlineLeft > 0, flushBacklog: this.offlineLeft === 0 };
    }
    if (this.o.offline > 0 && this.rng() < this.o.offline) {
      this.offlineLeft = this.o.offlineReadings;
      return { duplicate: false, withhold: true, flushBacklog: false };
    }
    const d: FaultDecision = { duplicate: false, withhold: false, flushBacklog: false };
    if (this.o.malformed > 0 && this.rng() < this.o.malformed) {
      d.malformed = MALFORMATIONS[Math.floor(this.rng() * MALFORMATIONS.length)];
      return d;
    }
    if (this.o.duplicates > 0 && this.rng() < this.o.duplicates) d.duplicate = true;
    return d;
  }
}
