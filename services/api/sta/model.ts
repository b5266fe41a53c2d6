import type { QuantityDef } from '../../common/catalogue.ts';
import type { Device, DeviceType } from '../../registry/index.ts';
import { StaQueryError, type Value } from './expression.ts';
import type { Geometry } from './geo.ts';

/**
 * How the registry and the catalogue appear as SensorThings entities. Ids are the platform's own, so they are
 * stable across restarts and replicas: a Thing, its Location, HistoricalLocation and FeatureOfInterest carry the
 * device id; a Sensor the device type id; an ObservedProperty the quantity name; a Datastream `device:quantity`;
 * an Observation `device:quantity:epoch-ms`.
 */
export const ENTITY_SETS = {
  Things: 'Thing',
  Locations: 'Location',
  HistoricalLocations: 'HistoricalLocation',
  Sensors: 'Sensor',
  ObservedProperties: 'ObservedProperty',
  Datastreams: 'Datastream',
  Observations: 'Observation',
  FeaturesOfInterest: 'FeatureOfInterest',
} as const;
export type EntitySet = keyof typeof ENTITY_SETS;
export type EntityType = (typeof ENTITY_SETS)[EntitySet];
export const SET_OF = Object.fromEntries(Object.entries(ENTITY_SETS).map(([s, t]) => [t, s])) as Record<
  EntityType,
  EntitySet
>;

/** Navigation properties: target type and whether it is a collection. */
export const NAVIGATION: Record<EntityType, Record<string, { type: EntityType; many: boolean }>> = {
  Thing: {
    Locations: { type: 'Location', many: true },
    HistoricalLocations: { type: 'HistoricalLocation', many: true },
    Datastreams: { type: 'Datastream', many: true },
  },
  Location: {
    Things: { type: 'Thing', many: true },
    HistoricalLocations: { type: 'HistoricalLocation', many: true },
  },
  HistoricalLocation: { Thing: { type: 'Thing', many: false }, Locations: { type: 'Location', many: true } },
  Sensor: { Datastreams: { type: 'Datastream', many: true } },
  ObservedProperty: { Datastreams: { type: 'Datastream', many: true } },
  Datastream: {
    Thing: { type: 'Thing', many: false },
    Sensor: { type: 'Sensor', many: false },
    ObservedProperty: { type: 'ObservedProperty', many: false },
    Observations: { type: 'Observation', many: true },
  },
  Observation: {
    Datastream: { type: 'Datastream', many: false },
    FeatureOfInterest: { type: 'FeatureOfInterest', many: false },
  },
  FeatureOfInterest: { Observations: { type: 'Observation', many: true } },
};

/** A Datastream: one device reporting one catalogue quantity. */
export interface Stream {
  id: string;
  device: Device;
  quantity: QuantityDef;
  type: DeviceType;
}

export interface Entity {
  type: EntityType;
  id: string;
  props: Record<string, unknown>;
  /** The device behind a Thing, Location, HistoricalLocation or FeatureOfInterest. */
  device?: Device;
  stream?: Stream;
  deviceType?: DeviceType;
  quantity?: QuantityDef;
}

export const OM_MEASUREMENT = 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement';
/** Properties that hold GeoJSON (compared as geometries in filters) and times (compared as instants). */
const GEOMETRY_PROPS = new Set(['location', 'feature', 'observedArea']);
const TIME_PROPS = new Set(['time', 'phenomenonTime', 'resultTime']);

export const point = (d: Device): Geometry | null =>
  d.lat !== null && d.lon !== null ? { type: 'Point', coordinates: [d.lon, d.lat] } : null;

export const streamId = (device: string, quantity: string) => `${device}:${quantity}`;

export function thing(d: Device): Entity {
  return {
    type: 'Thing',
    id: d.id,
    device: d,
    props: {
      name: d.name,
      description: `${d.type} device of department ${d.department}${d.district ? ` in ${d.district}` : ''}`,
      properties: { department: d.department, district: d.district, deviceType: d.type, lastSeenAt: d.lastSeenAt },
    },
  };
}

export function location(d: Device, g: Geometry): Entity {
  return {
    type: 'Location',
    id: d.id,
    device: d,
    props: {
      name: `Location of ${d.name}`,
      description: d.district ? `${d.district}` : 'Position of the device',
      encodingType: 'application/geo+json',
      location: g,
    },
  };
}

export const historicalLocation = (d: Device): Entity => ({
  type: 'HistoricalLocation',
  id: d.id,
  device: d,
  // The registry keeps one position per device, set when it was registered.
  props: { time: d.createdAt },
});

export const featureOfInterest = (d: Device, g: Geometry): Entity => ({
  type: 'FeatureOfInterest',
  id: d.id,
  device: d,
  props: {
    name: `Surroundings of ${d.name}`,
    description: `What ${d.name} observes${d.district ? ` in ${d.district}` : ''}`,
    encodingType: 'application/geo+json',
    feature: g,
  },
});

export const sensor = (t: DeviceType): Entity => ({
  type: 'Sensor',
  id: t.id,
  deviceType: t,
  props: {
    name: t.name,
    description: t.description || t.name,
    encodingType: 'application/json',
    metadata: t.profile,
    properties: { quantities: t.quantities, expectedIntervalS: t.expectedIntervalS },
  },
});

export const observedProperty = (q: QuantityDef): Entity => ({
  type: 'ObservedProperty',
  id: q.name,
  quantity: q,
  props: {
    name: q.name,
    definition: q.definition ?? `urn:sus:quantity:${q.name}`,
    description: q.description,
    properties: { unit: q.unit, range: q.range },
  },
});

export const datastream = (s: Stream): Entity => {
  const g = point(s.device);
  return {
    type: 'Datastream',
    id: s.id,
    stream: s,
    device: s.device,
    props: {
      name: `${s.quantity.name} of ${s.device.name}`,
      description: `${s.quantity.description} Measured by ${s.device.name}.`,
      observationType: OM_MEASUREMENT,
      unitOfMeasurement: {
        name: s.quantity.unitName ?? s.quantity.unit,
        symbol: s.quantity.unit,
        definition: s.quantity.unitDefinition ?? `http://unitsofmeasure.org/ucum.html#${s.quantity.unit}`,
      },
      ...(g ? { observedArea: g } : {}),
      properties: { department: s.device.department, district: s.device.district },
    },
  };
};

/**
 * An Observation, the one builder behind GET /sta/v1.1/…Observations and the MQTT notifications; `flags` (what
 * ingest marked about the reading: from InfluxDB's comma-joined `flags` field, or the reading itself) become
 * resultQuality.
 */
export const observation = (s: Stream, ms: number, value: number, flags: readonly string[] | null): Entity => {
  const t = new Date(ms).toISOString();
  return {
    type: 'Observation',
    id: `${s.id}:${ms}`,
    stream: s,
    device: s.device,
    props: {
      phenomenonTime: t,
      resultTime: t,
      result: value,
      resultQuality: flags && flags.length > 0 ? [...flags] : null,
    },
  };
};

/** `Things('aq-01')` or `Things(7)`: the set or navigation property and the key, if any (HTTP paths, MQTT topics). */
export function segment(s: string): { name: string; key?: string } {
  const m = /^([A-Za-z$]+)(?:\((?:'((?:[^']|'')*)'|(\d{1,20}))\))?$/.exec(s);
  if (!m) throw new StaQueryError(`'${s}' is not a resource path segment`, 'path');
  const key = m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3];
  return key === undefined ? { name: m[1]! } : { name: m[1]!, key };
}

/** An id as a resource path key: quoted, inner quotes doubled. */
export const quoteKey = (id: string) => `'${id.replace(/'/g, "''")}'`;

/** A property path's values as the filter compares them: geometries as geometries, times as instants. */
export function asValue(key: string, v: unknown): Value {
  if (v === undefined || v === null) return null;
  if (GEOMETRY_PROPS.has(key) && typeof v === 'object') return { kind: 'geo', g: v as Geometry };
  if (TIME_PROPS.has(key) && typeof v === 'string') return { kind: 'time', ms: Date.parse(v) };
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return null;
}
