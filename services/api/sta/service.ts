import type { FastifyRequest } from 'fastify';
import type { Catalogue } from '../../common/catalogue.ts';
import { SusError } from '../../common/errors.ts';
import { influxIdent, influxString } from '../../common/influx.ts';
import { type Device, type DeviceType, type Grant, grantCovers } from '../../registry/index.ts';
import { resolveRead } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { whereClause } from '../readings-query.ts';
import { compareValues, compileObservationFilter, matches, type Resolve, sortKey } from './evaluate.ts';
import { StaQueryError, type Value } from './expression.ts';
import {
  asValue,
  datastream,
  type Entity,
  type EntityType,
  featureOfInterest,
  historicalLocation,
  location,
  NAVIGATION,
  observation,
  observedProperty,
  point,
  type Stream,
  sensor,
  streamId,
  thing,
} from './model.ts';
import type { QueryOptions } from './query-options.ts';

/**
 * One request's view of the SensorThings model: the devices, Datastreams and Sensors the caller may see, built
 * from the registry with the one grant rule (grantCovers): a platform-wide key sees every device, a department its
 * own and what active grants to it or to the public cover, an anonymous caller what public grants cover. Reading
 * Observations goes through resolveRead, which checks the grant again for that device and quantity, clamps the time
 * window and writes the audit entry.
 */
export class StaView {
  readonly things = new Map<string, Entity>();
  readonly locations = new Map<string, Entity>();
  readonly historicalLocations = new Map<string, Entity>();
  readonly features = new Map<string, Entity>();
  readonly sensors = new Map<string, Entity>();
  readonly observedProperties = new Map<string, Entity>();
  readonly datastreams = new Map<string, Entity>();
  /** Points this request has asked InfluxDB for so far (the query budget is per request). */
  private spent = 0;

  constructor(
    readonly deps: ApiDeps,
    readonly req: FastifyRequest,
    /** undefined: platform-wide key; null: anonymous; else the department acting. */
    readonly reader: string | null | undefined,
    readonly maxTop: number,
  ) {}

  /** The caller's department (undefined: platform-wide key; null: anonymous) and the grants its view reads through. */
  static async access(
    deps: ApiDeps,
    req: FastifyRequest,
  ): Promise<{ reader: string | null | undefined; grants: Grant[] }> {
    const reader = req.principal ? (req.principal.department ?? undefined) : null;
    const grants =
      reader === undefined
        ? []
        : reader === null
          ? await deps.grants.publicDatasets()
          : await deps.grants.activeTo(reader);
    return { reader, grants };
  }

  /** The whole view: every device the caller may see (paths and expansions that reach across devices). */
  static async open(deps: ApiDeps, req: FastifyRequest, maxTop: number): Promise<StaView> {
    const [devices, types, access] = await Promise.all([
      deps.registry.listDevices(),
      deps.types.list(),
      StaView.access(deps, req),
    ]);
    return StaView.build(deps, req, maxTop, access, devices, types);
  }

  /** A view of `devices` only (a page the registry selected), with the types they need. */
  static build(
    deps: ApiDeps,
    req: FastifyRequest,
    maxTop: number,
    { reader, grants }: { reader: string | null | undefined; grants: Grant[] },
    devices: Device[],
    types: DeviceType[],
  ): StaView {
    const v = new StaView(deps, req, reader, maxTop);
    const typeById = new Map(types.map((t) => [t.id, t]));
    for (const q of deps.catalogue.names()) {
      const def = deps.catalogue.get(q)!;
      v.observedProperties.set(q, observedProperty(def));
    }
    for (const d of devices) {
      const t = typeById.get(d.type);
      const seen = t && visibleStreams(deps.catalogue, reader, grants, d, t);
      if (seen) v.addDevice(d, t, seen);
    }
    return v;
  }

  /** Shows a Sensor the registry selected (a page of Sensors), whether or not a device of it is on the page. */
  addSensor(t: DeviceType): void {
    if (!this.sensors.has(t.id)) this.sensors.set(t.id, sensor(t));
  }

  private addDevice(d: Device, t: DeviceType, streams: Stream[]): void {
    this.things.set(d.id, thing(d));
    const g = point(d);
    if (g) {
      this.locations.set(d.id, location(d, g));
      this.historicalLocations.set(d.id, historicalLocation(d));
      this.features.set(d.id, featureOfInterest(d, g));
    }
    if (!this.sensors.has(t.id)) this.sensors.set(t.id, sensor(t));
    for (const s of streams) this.datastreams.set(s.id, datastream(s));
  }

  set(type: Exclude<EntityType, 'Observation'>): Map<string, Entity> {
    switch (type) {
      case 'Thing':
        return this.things;
      case 'Location':
        return this.locations;
      case 'HistoricalLocation':
        return this.historicalLocations;
      case 'FeatureOfInterest':
        return this.features;
      case 'Sensor':
        return this.sensors;
      case 'ObservedProperty':
        return this.observedProperties;
      case 'Datastream':
        return this.datastreams;
    }
  }

  /** The registry-side targets of a navigation property (Observations are read with observations()). */
  navigate(e: Entity, nav: string): Entity[] {
    const streamsOf = (pred: (s: Stream) => boolean) => [...this.datastreams.values()].filter((x) => pred(x.stream!));
    const one = (m: Map<string, Entity>, id: string | undefined) => {
      const x = id === undefined ? undefined : m.get(id);
      return x ? [x] : [];
    };
    switch (`${e.type}/${nav}`) {
      case 'Thing/Locations':
      case 'HistoricalLocation/Locations':
        return one(this.locations, e.device?.id);
      case 'Thing/HistoricalLocations':
      case 'Location/HistoricalLocations':
        return one(this.historicalLocations, e.device?.id);
      case 'Thing/Datastreams':
        return streamsOf((s) => s.device.id === e.id);
      case 'Location/Things':
      case 'HistoricalLocation/Thing':
      case 'Datastream/Thing':
        return one(this.things, e.device?.id);
      case 'Sensor/Datastreams':
        return streamsOf((s) => s.type.id === e.id);
      case 'ObservedProperty/Datastreams':
        return streamsOf((s) => s.quantity.name === e.id);
      case 'Datastream/Sensor':
        return one(this.sensors, e.stream?.type.id);
      case 'Datastream/ObservedProperty':
        return one(this.observedProperties, e.stream?.quantity.name);
      case 'Observation/Datastream':
        return one(this.datastreams, e.stream?.id);
      case 'Observation/FeatureOfInterest':
        return one(this.features, e.device?.id);
      default:
        throw new StaQueryError(`'${nav}' is not a navigation property of ${e.type}`, 'path');
    }
  }

  /** The Datastreams whose Observations a navigation to Observations reads. */
  streamsBehind(e: Entity): Stream[] {
    if (e.type === 'Datastream') return [e.stream!];
    if (e.type === 'FeatureOfInterest')
      return [...this.datastreams.values()].filter((x) => x.device?.id === e.id).map((x) => x.stream!);
    throw new StaQueryError(`${e.type} has no Observations`, 'path');
  }

  /** Values of a property path from an entity, across navigation properties ("any" for collections). */
  resolver(e: Entity): Resolve {
    return (path) => {
      let cur: unknown[] = [e];
      let key = '';
      for (const seg of path) {
        const next: unknown[] = [];
        for (const x of cur) {
          if (isEntity(x)) {
            if (seg === '@iot.id' || seg === 'id') next.push(x.id);
            else if (NAVIGATION[x.type][seg]) {
              if (seg === 'Observations')
                throw new StaQueryError('a filter cannot reach through Observations', '$filter');
              next.push(...this.navigate(x, seg));
            } else next.push(x.props[seg]);
          } else if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
            next.push((x as Record<string, unknown>)[seg]);
          } else next.push(undefined);
        }
        cur = next;
        key = seg;
      }
      return cur.map((x) => (isEntity(x) ? x.id : asValue(key, x)));
    };
  }

  private spend(points: number): void {
    this.spent += points;
    const budget = this.deps.config.SUS_QUERY_MAX_POINTS;
    if (this.spent > budget)
      throw new SusError(
        'SUS_ERR_QUERY_BUDGET',
        `this request would fetch more than the query budget of ${budget} observations: ask for fewer ($top, $skip, fewer expanded Datastreams) or narrow with $filter on phenomenonTime`,
        400,
        { budget },
      );
  }

  /**
   * A page of Observations of `streams`, ordered by phenomenonTime, with the total count when asked. Each
   * Datastream is read through resolveRead (grant check, window clamp, audit); the filter is evaluated on the
   * registry side as far as it can be and the rest (result, phenomenonTime) becomes InfluxQL.
   */
  async observations(
    streams: Stream[],
    o: QueryOptions,
    idFilter?: number,
  ): Promise<{ items: Entity[]; count?: number; more: boolean }> {
    const top = Math.min(o.top ?? 100, this.maxTop);
    const desc = observationOrder(o);
    const single = streams.length === 1;
    const fetch = single ? top + 1 : o.skip + top + 1;
    const rows: Array<{ s: Stream; ms: number; v: number; flags: string[] | null }> = [];
    let count = 0;
    for (const s of streams) {
      const ds = this.datastreams.get(s.id)!;
      const residual = o.filter
        ? compileObservationFilter(
            o.filter,
            (path) => {
              const [head, ...rest] = path;
              if (rest.length === 0 && head === 'result') return 'result';
              if (rest.length === 0 && (head === 'phenomenonTime' || head === 'resultTime')) return 'time';
              if (head === 'Datastream') return this.resolver(ds)(rest);
              if (head === 'FeatureOfInterest') {
                const f = this.features.get(s.device.id);
                return f ? this.resolver(f)(rest) : [null];
              }
              if (rest.length === 0 && (head === 'resultQuality' || head === 'parameters' || head === 'validTime'))
                return [null];
              throw new StaQueryError(`'${path.join('/')}' cannot be filtered on Observations`, '$filter');
            },
            (ms) => influxString(new Date(ms).toISOString()),
          )
        : ({ k: 'const', v: true } as const);
      if (residual.k === 'const' && !residual.v) continue;
      const scope = await resolveRead(
        this.deps,
        this.req,
        { device: s.device.id, quantities: [s.quantity.name] },
        this.reader === null ? { reader: null } : {},
      );
      const base = whereClause(scope.filter, scope.from, scope.to);
      const extra = residual.k === 'query' ? [...residual.time, ...residual.where] : [];
      if (idFilter !== undefined) extra.push(`time = ${influxString(new Date(idFilter).toISOString())}`);
      const where = extra.length
        ? base
          ? `${base} AND ${extra.join(' AND ')}`
          : ` WHERE ${extra.join(' AND ')}`
        : base;
      const from = influxIdent(s.quantity.name);
      if (o.count) {
        this.spend(1);
        const [series = []] = await this.deps.influx.query(`SELECT count("value") FROM ${from}${where}`);
        const c = series[0]?.values[0]?.[1];
        count += typeof c === 'number' ? c : 0;
      }
      if (top === 0) continue;
      this.spend(fetch);
      const [series = []] = await this.deps.influx.query(
        `SELECT "value", "flags" FROM ${from}${where} ORDER BY time ${desc ? 'DESC' : 'ASC'} LIMIT ${fetch}${single && o.skip ? ` OFFSET ${o.skip}` : ''}`,
      );
      for (const sr of series) {
        const fi = sr.columns.indexOf('flags');
        for (const row of sr.values) {
          const [t, v] = row;
          if (typeof t !== 'number' || typeof v !== 'number') continue;
          const f = row[fi];
          rows.push({ s, ms: t, v, flags: typeof f === 'string' ? f.split(',') : null });
        }
      }
    }
    rows.sort((a, b) => (desc ? b.ms - a.ms : a.ms - b.ms) || a.s.id.localeCompare(b.s.id));
    const page = single ? rows : rows.slice(o.skip);
    return {
      items: page.slice(0, top).map((r) => observation(r.s, r.ms, r.v, r.flags)),
      ...(o.count ? { count } : {}),
      more: page.length > top,
    };
  }

  /** Filter, count, order and page registry entities. */
  page(items: Entity[], o: QueryOptions): { items: Entity[]; count: number; more: boolean } {
    let list = o.filter ? items.filter((e) => matches(o.filter!, this.resolver(e))) : [...items];
    const count = list.length;
    const keys = o.orderby.length ? o.orderby : [];
    list.sort((a, b) => {
      for (const k of keys) {
        const c = compareNullsFirst(sortKey(k.e, this.resolver(a)), sortKey(k.e, this.resolver(b)));
        if (c !== 0) return k.desc ? -c : c;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    const top = Math.min(o.top ?? 100, this.maxTop);
    list = list.slice(o.skip);
    return { items: list.slice(0, top), count, more: list.length > top };
  }
}

/**
 * Whether one of `grants` opens the Datastream of `d` × `q` to a reader who does not own the device (HTTP and MQTT).
 * STA serves raw observations: a grant with an aggregation floor does not open a Datastream. With `time` (an
 * Observation's, for MQTT notifications) the grant's window of reading times must hold it too.
 */
export const sharingGrant = (grants: Grant[], d: Device, q: string, time?: number): Grant | undefined =>
  grants.find(
    (g) =>
      g.owner === d.department &&
      grantCovers(g, {
        quantities: [q],
        deviceType: d.type,
        district: d.district,
        raw: true,
        ...(time !== undefined ? { time } : {}),
      }),
  );
export const streamShared = (grants: Grant[], d: Device, q: string): boolean =>
  sharingGrant(grants, d, q) !== undefined;

/**
 * The Datastreams of device `d` a reader sees (HTTP views and MQTT subscriptions alike), or undefined when it does
 * not see the device at all. reader: undefined for a platform-wide key, null anonymous, else the department; a
 * department sees its own devices whole and others' Datastreams its grants (or public ones) open.
 */
export function visibleStreams(
  catalogue: Catalogue,
  reader: string | null | undefined,
  grants: Grant[],
  d: Device,
  t: DeviceType,
): Stream[] | undefined {
  const own = reader === undefined || d.department === reader;
  const streams: Stream[] = [];
  for (const q of t.quantities) {
    const def = catalogue.get(q);
    if (!def || def.name !== q) continue;
    if (!own && !streamShared(grants, d, q)) continue;
    streams.push({ id: streamId(d.id, q), device: d, quantity: def, type: t });
  }
  return own || streams.length > 0 ? streams : undefined;
}

const isEntity = (x: unknown): x is Entity =>
  typeof x === 'object' && x !== null && 'type' in x && 'props' in x && 'id' in x;

function compareNullsFirst(a: Value, b: Value): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  return compareValues(a, b) ?? 0;
}

/** Observations are ordered in InfluxDB, which orders by time only. */
function observationOrder(o: QueryOptions): boolean {
  if (o.orderby.length === 0) return false;
  const [first, ...rest] = o.orderby;
  const key = first!.e.k === 'path' ? first!.e.p.join('/') : '';
  if (rest.length || !['phenomenonTime', 'resultTime', 'id', '@iot.id'].includes(key))
    throw new StaQueryError('Observations can be ordered by phenomenonTime (or resultTime) only', '$orderby');
  return first!.desc;
}
