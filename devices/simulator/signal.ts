/**
 * Signal generation for the demo fleet: deterministic given the rng, the time and the
 * per-device state. `sampleReading` advances the state object passed in (fill levels,
 * battery charge, correlated noise, rain) and touches nothing else.
 */
import {
  DEVICE_TYPES,
  type DeviceTypeId,
  type DeviceTypeSpec,
  type QuantityName,
  type SignalModel,
} from './device-types.ts';
import { gaussian, type Rng, uniform } from './rng.ts';

/** Local time of the demo city: daily and weekly cycles follow the wall clock there. */
export const CITY_TIME_ZONE = 'Europe/Berlin';

/** Per-quantity state carried from one reading to the next. */
export interface QuantityState {
  /** Correlated (AR(1)) noise term. */
  ar?: number;
  /** Fill level / battery voltage. */
  level?: number;
  /** Fill level at which the bin is emptied in the current cycle. */
  threshold?: number;
  raining?: boolean;
  /** Rain intensity (mm/h) of the current shower. */
  intensity?: number;
}

/** Per-device state; create with `createDeviceState()` and pass to every `sampleReading`. */
export interface DeviceState {
  /** Time of the previous reading (epoch ms). */
  lastMs: number | undefined;
  quantities: Partial<Record<QuantityName, QuantityState>>;
}

export interface SampledReading {
  values: Record<string, number>;
}

export interface LocalClock {
  /** Fractional hour of the day, [0, 24). */
  hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  weekend: boolean;
}

export function createDeviceState(): DeviceState {
  return { lastMs: undefined, quantities: {} };
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const clockFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: CITY_TIME_ZONE,
  hourCycle: 'h23',
  weekday: 'short',
  hour: 'numeric',
  minute: 'numeric',
});

/** Hour of day and weekday in the city's time zone (DST-aware). */
export function localClock(atMs: number): LocalClock {
  let hour = 0;
  let minute = 0;
  let weekday = 0;
  for (const p of clockFormat.formatToParts(new Date(atMs))) {
    if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
    else if (p.type === 'weekday') weekday = WEEKDAYS[p.value] ?? 0;
  }
  return { hour: hour + minute / 60, weekday, weekend: weekday === 0 || weekday === 6 };
}

/** Circular distance between two hours of the day. */
function hourDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 24;
  return Math.min(d, 24 - d);
}

/** The daily-cycle shape of a model at a local hour (see `DiurnalShape`). */
export function diurnalShape(m: SignalModel, hour: number): number {
  switch (m.diurnalShape) {
    case 'none':
      return 0;
    case 'cosine':
      return Math.cos((2 * Math.PI * (hour - m.peakHour)) / 24);
    case 'rush': {
      const day = hour > 6 && hour < 22 ? Math.sin((Math.PI * (hour - 6)) / 16) : 0;
      let bumps = 0;
      for (const p of m.peakHours ?? [m.peakHour]) bumps += Math.exp(-(hourDistance(hour, p) ** 2) / (2 * 1.5 ** 2));
      return Math.min(1, 0.5 * day + bumps);
    }
    case 'daylight':
      return hour > 6 && hour < 20 ? Math.sin((Math.PI * (hour - 6)) / 14) : 0;
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  const r = Math.round(v * f) / f;
  return r === 0 ? 0 : r; // no -0 in JSON
}

/** AR(1) noise with stationary sd `sd` and per-hour coefficient `phi`, advanced by `dtH` hours. */
function correlatedNoise(s: QuantityState, sd: number, phi: number, dtH: number, rng: Rng): number {
  if (s.ar === undefined) {
    s.ar = sd * gaussian(rng);
  } else {
    const a = phi ** dtH;
    s.ar = s.ar * a + Math.sqrt(Math.max(0, 1 - a * a)) * sd * gaussian(rng);
  }
  return s.ar;
}

function sampleQuantity(
  m: SignalModel,
  s: QuantityState,
  clock: LocalClock,
  dtH: number,
  first: boolean,
  rng: Rng,
): number {
  const shape = diurnalShape(m, clock.hour);
  const weekly = clock.weekend ? m.weekendFactor : 1;
  switch (m.kind) {
    case 'gaussian': {
      const level = (m.base + m.diurnalAmplitude * shape) * weekly;
      const noise = m.persistence ? correlatedNoise(s, m.noiseSd, m.persistence, dtH, rng) : m.noiseSd * gaussian(rng);
      return m.multiplicativeNoise ? level * Math.max(0.05, 1 + noise) : level + noise;
    }
    case 'bernoulli': {
      const p = clamp((m.base + m.diurnalAmplitude * shape) * weekly, 0, 1);
      return rng() < p ? 1 : 0;
    }
    case 'count': {
      const mean = Math.max(0, (m.base + m.diurnalAmplitude * shape) * weekly);
      return Math.max(0, Math.round(mean + m.noiseSd * Math.sqrt(mean) * gaussian(rng)));
    }
    case 'fill': {
      const [lo, hi] = m.resetAbove ?? [m.max, m.max];
      if (s.level === undefined || s.threshold === undefined) {
        s.level = uniform(rng, m.min, (lo + m.min) * 0.7);
        s.threshold = uniform(rng, lo, hi);
      } else if (!first) {
        const rate = Math.max(0, (m.ratePerHour ?? 0) * (1 + m.diurnalAmplitude * shape) * weekly);
        s.level += rate * dtH;
        if (s.level >= s.threshold) {
          s.level = uniform(rng, m.min, m.min + 5); // emptied
          s.threshold = uniform(rng, lo, hi);
        }
      }
      return s.level + m.noiseSd * gaussian(rng);
    }
    case 'battery': {
      const [lo, hi] = m.startRange ?? [m.base, m.base];
      if (s.level === undefined) {
        s.level = uniform(rng, lo, hi);
      } else if (!first) {
        s.level += (m.ratePerHour ?? 0) * dtH;
        if (s.level < (m.resetBelow ?? m.min)) s.level = uniform(rng, m.base - 0.05, m.base); // battery swapped
      }
      return s.level + m.noiseSd * gaussian(rng);
    }
    case 'rain': {
      const start = m.eventProbability ?? 0;
      const stop = m.stopProbability ?? 1;
      if (s.raining === undefined) {
        s.raining = rng() < start / (start + stop || 1);
        s.intensity = m.base * -Math.log(1 - rng());
      } else if (s.raining) {
        if (rng() < 1 - (1 - stop) ** dtH) s.raining = false;
      } else if (rng() < 1 - (1 - start) ** dtH) {
        s.raining = true;
        s.intensity = m.base * -Math.log(1 - rng()); // exponential intensity, mean `base` mm/h
      }
      return s.raining ? (s.intensity ?? m.base) * (0.5 + rng()) * dtH : 0;
    }
  }
}

function resolveType(type: DeviceTypeId | DeviceTypeSpec): DeviceTypeSpec {
  if (typeof type !== 'string') return type;
  const spec = DEVICE_TYPES[type];
  if (!spec) throw new Error(`unknown device type: ${String(type)}`);
  return spec;
}

/**
 * One reading of every quantity of `type` at `atMs`, clamped to the model's range and
 * rounded to its decimals. Advances `state` (pass the same object for the same device);
 * the elapsed time since the previous reading drives fill levels, battery drain and the
 * correlation of the noise; the first reading assumes the type's nominal interval.
 */
export function sampleReading(
  type: DeviceTypeId | DeviceTypeSpec,
  state: DeviceState,
  atMs: number,
  rng: Rng,
): SampledReading {
  const spec = resolveType(type);
  const first = state.lastMs === undefined;
  const dtH =
    state.lastMs === undefined ? spec.expectedIntervalS / 3600 : clamp((atMs - state.lastMs) / 3_600_000, 0, 24 * 30);
  if (state.lastMs === undefined || atMs > state.lastMs) state.lastMs = atMs;
  const clock = localClock(atMs);
  const values: Record<string, number> = {};
  for (const [q, m] of Object.entries(spec.quantities) as [QuantityName, SignalModel][]) {
    let qs = state.quantities[q];
    if (!qs) {
      qs = {};
      state.quantities[q] = qs;
    }
    const raw = sampleQuantity(m, qs, clock, dtH, first, rng);
    values[q] = round(clamp(Number.isFinite(raw) ? raw : m.base, m.min, m.max), m.decimals);
  }
  return { values };
}
