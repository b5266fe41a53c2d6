/**
 * Device types of the demo fleet with the signal models of their quantities. Pure data + pure functions (no
 * Math.random here).
 */
import type { DepartmentId, DistrictId } from './city.ts';

// ---------------------------------------------------------------------------------------
// Quantities: catalogue names (units and plausible ranges live in services/common/catalogue)
// ---------------------------------------------------------------------------------------

/** The quantities the demo fleet reports; tests/devices/simulator check each against the catalogue. */
export type QuantityName =
  | 'air_temperature'
  | 'relative_humidity'
  | 'air_pressure'
  | 'pm2_5'
  | 'pm10'
  | 'no2'
  | 'co2'
  | 'noise_laeq'
  | 'water_level'
  | 'soil_moisture'
  | 'soil_temperature'
  | 'fill_level'
  | 'parking_occupied'
  | 'vehicle_count'
  | 'battery_voltage'
  | 'rssi'
  | 'snr'
  | 'wind_speed'
  | 'precipitation'
  | 'illuminance';

// ---------------------------------------------------------------------------------------
// Signal models
// ---------------------------------------------------------------------------------------

/**
 * How a quantity evolves:
 * - `gaussian`: level = (base + diurnalAmplitude·shape(hour)) · weekly, plus noise with sd
 *   `noiseSd` (AR(1)-correlated over time when `persistence` is set; relative to the level
 *   when `multiplicativeNoise`).
 * - `bernoulli`: 1 with probability (base + diurnalAmplitude·shape)·weekly, else 0.
 * - `count`: integer count per reporting interval, mean (base + amplitude·shape)·weekly,
 *   Poisson-like spread (sd = noiseSd·√mean).
 * - `fill`: a level rising by `ratePerHour`·(1 + diurnal)·weekly per hour; emptied (back to
 *   0–5) when it passes a per-cycle threshold in [`resetAbove[0]`, `resetAbove[1]`].
 * - `battery`: starts in [`startRange`], drains by `ratePerHour` (negative), is swapped
 *   back to a full battery when it falls below `resetBelow`; small measurement noise.
 * - `rain`: a two-state (dry/raining) Markov chain; `eventProbability` = chance per hour
 *   that rain starts, `stopProbability` = chance per hour that it stops, `base` = mean
 *   intensity in mm/h while raining; the value is the amount since the last reading.
 */
export type SignalKind = 'gaussian' | 'bernoulli' | 'count' | 'fill' | 'battery' | 'rain';

/**
 * Shape of the daily cycle, a function of the local hour h:
 * - `none`: 0
 * - `cosine`: cos(2π(h − peakHour)/24) ∈ [−1, 1], maximum at `peakHour`
 * - `rush`: ≈0 at night, ~0.5 around midday and 1 at each of `peakHours` (rush hours)
 * - `daylight`: sin bell between sunrise (6 h) and sunset (20 h), 0 at night
 */
export type DiurnalShape = 'none' | 'cosine' | 'rush' | 'daylight';

export interface SignalModel {
  readonly kind: SignalKind;
  readonly base: number;
  readonly diurnalAmplitude: number;
  readonly diurnalShape: DiurnalShape;
  /** Peak hour (local time) for `cosine`. */
  readonly peakHour: number;
  /** Peak hours for `rush` (defaults to [peakHour]). */
  readonly peakHours?: readonly number[];
  /** Multiplier applied on Saturdays and Sundays (1 = no weekly cycle). */
  readonly weekendFactor: number;
  readonly noiseSd: number;
  /** AR(1) coefficient per hour for the noise (0 = white noise). */
  readonly persistence?: number;
  readonly multiplicativeNoise?: boolean;
  /** `fill`: %/h; `battery`: V/h (negative). */
  readonly ratePerHour?: number;
  /** `fill`: the emptying threshold is drawn from this range each cycle. */
  readonly resetAbove?: readonly [number, number];
  /** `battery`: swap when below. */
  readonly resetBelow?: number;
  /** `battery`: initial voltage range. */
  readonly startRange?: readonly [number, number];
  /** `rain`: probability per hour that rain starts / stops. */
  readonly eventProbability?: number;
  readonly stopProbability?: number;
  /** Clamp (plausible range of the simulated signal). */
  readonly min: number;
  readonly max: number;
  readonly decimals: number;
}

type ModelInput = Partial<SignalModel> & Pick<SignalModel, 'min' | 'max' | 'decimals'>;

function model(m: ModelInput): SignalModel {
  return {
    kind: 'gaussian',
    base: 0,
    diurnalAmplitude: 0,
    diurnalShape: 'none',
    peakHour: 12,
    weekendFactor: 1,
    noiseSd: 0,
    ...m,
  };
}

const RUSH_HOURS = [8, 17] as const;

const battery = model({
  kind: 'battery',
  base: 4.2,
  ratePerHour: -0.0008, // ≈ 0.02 V/day: a few weeks from full to swap
  startRange: [3.7, 4.2],
  resetBelow: 3.35,
  noiseSd: 0.005,
  min: 3.3,
  max: 4.2,
  decimals: 2,
});

// ---------------------------------------------------------------------------------------
// Device types
// ---------------------------------------------------------------------------------------

export type DeviceTypeId =
  | 'air_quality'
  | 'climate'
  | 'noise'
  | 'water_level'
  | 'soil_moisture'
  | 'parking'
  | 'traffic_counter'
  | 'waste_fill';

export interface DeviceTypeSpec {
  readonly id: DeviceTypeId;
  /** Human label, used in device names. */
  readonly name: string;
  /** Prefix of demo device ids, e.g. `aq` → `aq-altstadt-01`. */
  readonly idPrefix: string;
  readonly department: DepartmentId;
  /** Nominal reporting interval of a real device of this type. */
  readonly expectedIntervalS: number;
  /** Quantities this type reports, in order, with their signal models. */
  readonly quantities: Readonly<Partial<Record<QuantityName, SignalModel>>>;
  /** Relative share in the demo fleet. */
  readonly weight: number;
  /** Districts in order of preference when placing demo devices. */
  readonly districts: readonly DistrictId[];
}

export const DEVICE_TYPES: Readonly<Record<DeviceTypeId, DeviceTypeSpec>> = {
  air_quality: {
    id: 'air_quality',
    name: 'Air quality station',
    idPrefix: 'aq',
    department: 'environment',
    expectedIntervalS: 300,
    weight: 8,
    districts: [
      'altstadt',
      'bahnhof',
      'industriegebiet',
      'nordstadt',
      'suedstadt',
      'weststadt',
      'oststadt',
      'stadtpark',
    ],
    quantities: {
      // Evening maximum (heating, inversion), episodes lasting hours.
      pm2_5: model({
        base: 13,
        diurnalAmplitude: 4,
        diurnalShape: 'cosine',
        peakHour: 20,
        weekendFactor: 0.9,
        noiseSd: 5,
        persistence: 0.9,
        min: 5,
        max: 40,
        decimals: 1,
      }),
      pm10: model({
        base: 21,
        diurnalAmplitude: 6,
        diurnalShape: 'cosine',
        peakHour: 19,
        weekendFactor: 0.85,
        noiseSd: 7,
        persistence: 0.9,
        min: 8,
        max: 60,
        decimals: 1,
      }),
      // Traffic-driven: rush-hour peaks at 8 and 17, much lower on weekends.
      no2: model({
        base: 20,
        diurnalAmplitude: 38,
        diurnalShape: 'rush',
        peakHours: RUSH_HOURS,
        weekendFactor: 0.6,
        noiseSd: 4,
        persistence: 0.5,
        min: 10,
        max: 80,
        decimals: 1,
      }),
      air_temperature: model({
        base: 15,
        diurnalAmplitude: 5.5,
        diurnalShape: 'cosine',
        peakHour: 15,
        noiseSd: 2,
        persistence: 0.95,
        min: 5,
        max: 25,
        decimals: 1,
      }),
      relative_humidity: model({
        base: 70,
        diurnalAmplitude: 14,
        diurnalShape: 'cosine',
        peakHour: 5,
        noiseSd: 6,
        persistence: 0.9,
        min: 30,
        max: 98,
        decimals: 1,
      }),
      battery_voltage: battery,
      rssi: model({ base: -86, noiseSd: 6, persistence: 0.6, min: -110, max: -60, decimals: 0 }),
    },
  },
  climate: {
    id: 'climate',
    name: 'Weather station',
    idPrefix: 'clim',
    department: 'environment',
    expectedIntervalS: 600,
    weight: 4,
    districts: [
      'stadtpark',
      'altstadt',
      'industriegebiet',
      'nordstadt',
      'suedstadt',
      'weststadt',
      'oststadt',
      'bahnhof',
    ],
    quantities: {
      air_temperature: model({
        base: 15,
        diurnalAmplitude: 6,
        diurnalShape: 'cosine',
        peakHour: 15,
        noiseSd: 2,
        persistence: 0.95,
        min: 5,
        max: 25,
        decimals: 1,
      }),
      relative_humidity: model({
        base: 70,
        diurnalAmplitude: 15,
        diurnalShape: 'cosine',
        peakHour: 5,
        noiseSd: 6,
        persistence: 0.9,
        min: 30,
        max: 98,
        decimals: 1,
      }),
      air_pressure: model({
        base: 101_300,
        diurnalAmplitude: 60,
        diurnalShape: 'cosine',
        peakHour: 10,
        noiseSd: 600,
        persistence: 0.99,
        min: 98_500,
        max: 104_000,
        decimals: 0,
      }),
      wind_speed: model({
        base: 3,
        diurnalAmplitude: 1.2,
        diurnalShape: 'cosine',
        peakHour: 14,
        noiseSd: 1.5,
        persistence: 0.8,
        min: 0,
        max: 20,
        decimals: 1,
      }),
      precipitation: model({
        kind: 'rain',
        base: 1.2,
        eventProbability: 0.04,
        stopProbability: 0.25,
        min: 0,
        max: 30,
        decimals: 1,
      }),
      illuminance: model({
        base: 3,
        diurnalAmplitude: 60_000,
        diurnalShape: 'daylight',
        noiseSd: 0.25,
        persistence: 0.7,
        multiplicativeNoise: true,
        min: 0,
        max: 100_000,
        decimals: 0,
      }),
    },
  },
  noise: {
    id: 'noise',
    name: 'Noise monitor',
    idPrefix: 'noise',
    department: 'environment',
    expectedIntervalS: 60,
    weight: 6,
    districts: [
      'altstadt',
      'bahnhof',
      'industriegebiet',
      'oststadt',
      'weststadt',
      'nordstadt',
      'suedstadt',
      'stadtpark',
    ],
    quantities: {
      noise_laeq: model({
        base: 42,
        diurnalAmplitude: 22,
        diurnalShape: 'rush',
        peakHours: RUSH_HOURS,
        weekendFactor: 0.9,
        noiseSd: 3,
        persistence: 0.3,
        min: 30,
        max: 90,
        decimals: 1,
      }),
    },
  },
  water_level: {
    id: 'water_level',
    name: 'Water level gauge',
    idPrefix: 'wl',
    department: 'drainage',
    expectedIntervalS: 900,
    weight: 5,
    districts: [
      'stadtpark',
      'suedstadt',
      'altstadt',
      'industriegebiet',
      'oststadt',
      'weststadt',
      'nordstadt',
      'bahnhof',
    ],
    quantities: {
      water_level: model({
        base: 0.75,
        diurnalAmplitude: 0.03,
        diurnalShape: 'cosine',
        peakHour: 7,
        noiseSd: 0.22,
        persistence: 0.97,
        min: 0.4,
        max: 1.5,
        decimals: 2,
      }),
      battery_voltage: battery,
    },
  },
  soil_moisture: {
    id: 'soil_moisture',
    name: 'Soil moisture probe',
    idPrefix: 'soil',
    department: 'parks',
    expectedIntervalS: 1800,
    weight: 6,
    districts: [
      'stadtpark',
      'suedstadt',
      'weststadt',
      'oststadt',
      'nordstadt',
      'altstadt',
      'industriegebiet',
      'bahnhof',
    ],
    quantities: {
      soil_moisture: model({
        base: 30,
        diurnalAmplitude: 1.5,
        diurnalShape: 'cosine',
        peakHour: 6,
        noiseSd: 6,
        persistence: 0.99,
        min: 15,
        max: 45,
        decimals: 1,
      }),
      soil_temperature: model({
        base: 12,
        diurnalAmplitude: 2.5,
        diurnalShape: 'cosine',
        peakHour: 17,
        noiseSd: 1.5,
        persistence: 0.95,
        min: 2,
        max: 24,
        decimals: 1,
      }),
      battery_voltage: battery,
    },
  },
  parking: {
    id: 'parking',
    name: 'Parking bay sensor',
    idPrefix: 'park',
    department: 'traffic',
    expectedIntervalS: 120,
    weight: 9,
    districts: [
      'altstadt',
      'bahnhof',
      'oststadt',
      'weststadt',
      'nordstadt',
      'suedstadt',
      'stadtpark',
      'industriegebiet',
    ],
    quantities: {
      // Occupied with probability ≈ 0.85 at 13 h, ≈ 0.1 at night; fewer cars on weekends.
      parking_occupied: model({
        kind: 'bernoulli',
        base: 0.47,
        diurnalAmplitude: 0.38,
        diurnalShape: 'cosine',
        peakHour: 13,
        weekendFactor: 0.7,
        min: 0,
        max: 1,
        decimals: 0,
      }),
    },
  },
  traffic_counter: {
    id: 'traffic_counter',
    name: 'Traffic counter',
    idPrefix: 'tc',
    department: 'traffic',
    expectedIntervalS: 300,
    weight: 5,
    districts: [
      'bahnhof',
      'altstadt',
      'nordstadt',
      'industriegebiet',
      'weststadt',
      'suedstadt',
      'oststadt',
      'stadtpark',
    ],
    quantities: {
      // Vehicles per 5-minute interval.
      vehicle_count: model({
        kind: 'count',
        base: 8,
        diurnalAmplitude: 160,
        diurnalShape: 'rush',
        peakHours: RUSH_HOURS,
        weekendFactor: 0.55,
        noiseSd: 1,
        min: 0,
        max: 2000,
        decimals: 0,
      }),
    },
  },
  waste_fill: {
    id: 'waste_fill',
    name: 'Waste bin fill sensor',
    idPrefix: 'waste',
    department: 'waste',
    expectedIntervalS: 3600,
    weight: 5,
    districts: [
      'stadtpark',
      'altstadt',
      'bahnhof',
      'suedstadt',
      'nordstadt',
      'weststadt',
      'oststadt',
      'industriegebiet',
    ],
    quantities: {
      // ≈ 0.7 %/h on average, faster in the afternoon and on weekends; emptied at 80–95 %.
      fill_level: model({
        kind: 'fill',
        ratePerHour: 0.7,
        diurnalAmplitude: 0.8,
        diurnalShape: 'cosine',
        peakHour: 15,
        weekendFactor: 1.3,
        resetAbove: [80, 95],
        noiseSd: 0.8,
        min: 0,
        max: 100,
        decimals: 0,
      }),
      battery_voltage: battery,
    },
  },
};

export const DEVICE_TYPE_IDS = Object.keys(DEVICE_TYPES) as DeviceTypeId[];

export function isDeviceTypeId(value: string): value is DeviceTypeId {
  return Object.hasOwn(DEVICE_TYPES, value);
}

/** The quantity names a device type reports, in order. */
export function quantitiesOf(type: DeviceTypeId): QuantityName[] {
  return Object.keys(DEVICE_TYPES[type].quantities) as QuantityName[];
}
