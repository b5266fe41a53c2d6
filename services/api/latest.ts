import type { FastifyReply, FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';
import type { Device, LatestValue } from '../registry/index.ts';
import { devicesInScope, type ReadScope } from './access.ts';
import { AnswerCache } from './answer-cache.ts';
import { toCsv, wants } from './csv.ts';
import type { ApiDeps } from './deps.ts';
import { SharedAnswer, sendConditional } from './etag.ts';
import { queryLatestMany } from './readings-query.ts';

export interface LatestFilters {
  district?: string;
  bbox?: [number, number, number, number];
}

export interface LatestDevice {
  device: string;
  department: string;
  type: string;
  district: string | null;
  lat: number | null;
  lon: number | null;
  values: Array<{ quantity: string; value: number; unit: string; time: string }>;
}

type Format = 'json' | 'csv' | 'geojson';
const TYPES: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  geojson: 'application/geo+json',
};

// Answers built from InfluxDB change at most once per ingest flush (SUS_WRITE_FLUSH_MS, 1 s by default).
const LATEST_TTL_MS = 1000;
// Bounds of each API instance's answer cache: a department's 10,000 devices are ~2 MB of JSON.
const BOUNDS = { entries: 256, bytes: 64 * 1024 * 1024 };

/**
 * Finished answers of the latest routes by request and format, valid while the store's version is unchanged (those
 * built from InfluxDB, for closed grant windows, for LATEST_TTL_MS): maps and dashboards poll the same few requests,
 * and a department's 10,000 devices took ~100 ms to read and serialise, against one one-row version read for a hit.
 * Per store: API instances of one process (tests) may read different registries.
 */
const caches = new WeakMap<object, AnswerCache>();

function cacheOf(owner: object): AnswerCache {
  let c = caches.get(owner);
  if (!c) {
    c = new AnswerCache(BOUNDS, LATEST_TTL_MS);
    caches.set(owner, c);
  }
  return c;
}

/** The scope's devices, narrowed by district and bounding box (registry data), within the query budget. */
async function devicesOf(deps: ApiDeps, names: string[], scope: ReadScope, f: LatestFilters): Promise<Device[]> {
  const bbox = f.bbox;
  const devices = (await devicesInScope(deps, scope, f.district)).filter(
    (d) =>
      !bbox ||
      (d.lat !== null &&
        d.lon !== null &&
        d.lon >= bbox[0] &&
        d.lat >= bbox[1] &&
        d.lon <= bbox[2] &&
        d.lat <= bbox[3]),
  );
  const budget = deps.config.SUS_QUERY_MAX_POINTS;
  if (devices.length * names.length > budget) {
    throw new SusError(
      'SUS_ERR_QUERY_BUDGET',
      `${devices.length} devices × ${names.length} quantities exceeds the query budget of ${budget} values: ` +
        'name a quantity, a district or a bounding box',
      400,
      { budget },
    );
  }
  return devices;
}

type Values = LatestDevice['values'];

/** Per device, its values sorted by quantity, in the registry's device order. */
function assemble(devices: Device[], byDevice: Map<string, Values>): LatestDevice[] {
  return devices.flatMap((d) => {
    const values = byDevice.get(d.id);
    if (!values) return [];
    values.sort((a, b) => a.quantity.localeCompare(b.quantity));
    return [
      { device: d.id, department: d.department, type: d.type, district: d.district, lat: d.lat, lon: d.lon, values },
    ];
  });
}

const shown = (v: LatestValue) => ({ quantity: v.quantity, value: v.value, unit: v.unit, time: iso(v.time) });
const iso = (ms: number) => new Date(ms).toISOString();

/** The newest value of every quantity one device reported (its own department's read: no window), by quantity. */
export async function latestOf(deps: ApiDeps, id: string): Promise<Values> {
  const values = await deps.registry.latest.read({ quantities: deps.catalogue.names(), devices: [id] });
  return values.map(shown).sort((a, b) => a.quantity.localeCompare(b.quantity));
}

/**
 * Latest values of every device in scope from the latest-value store: the registry says which devices (access.ts
 * narrows them by the grant), the store gives their newest values at or after the grant's window start. A grant
 * whose window ended before a stored value needs the last value inside the window, which only InfluxDB has:
 * undefined then.
 */
async function fromStore(
  deps: ApiDeps,
  names: string[],
  scope: ReadScope,
  devices: Device[],
  named: boolean,
): Promise<LatestDevice[] | undefined> {
  const values = await deps.registry.latest.read({
    quantities: names,
    ...(scope.owner !== undefined ? { department: scope.owner } : {}),
    ...(named ? { devices: devices.map((d) => d.id) } : {}),
    ...(scope.from !== undefined ? { from: scope.from } : {}),
  });
  const to = scope.to;
  if (to !== undefined && values.some((v) => v.time > to)) return undefined;
  const byDevice = new Map<string, Values>();
  for (const v of values) {
    const list = byDevice.get(v.device);
    if (list) list.push(shown(v));
    else byDevice.set(v.device, [shown(v)]);
  }
  return assemble(devices, byDevice);
}

/** The InfluxDB path: `last()` per device inside the scope's time window, one query with GROUP BY "device". */
async function fromInflux(
  deps: ApiDeps,
  names: string[],
  scope: ReadScope,
  devices: Device[],
  f: LatestFilters,
): Promise<LatestDevice[]> {
  // Where is registry data, not a tag: a bounding box names its devices in the query, which otherwise would
  // compute the last value of every device of the department.
  const filter = f.bbox ? { ...scope.filter, devices: devices.map((d) => d.id) } : scope.filter;
  const rows = await queryLatestMany(deps.influx, deps.catalogue, names, filter, scope.from, scope.to);
  const byDevice = new Map<string, Values>();
  for (const r of rows) {
    const v = { quantity: r.quantity, value: r.value, unit: r.unit, time: r.time };
    const list = byDevice.get(r.device);
    if (list) list.push(v);
    else byDevice.set(r.device, [v]);
  }
  return assemble(devices, byDevice);
}

/** Latest values of every device in scope; `stored` says whether the latest-value store answered. */
export async function latestScoped(
  deps: ApiDeps,
  names: string[],
  scope: ReadScope,
  f: LatestFilters,
): Promise<{ devices: LatestDevice[]; stored: boolean }> {
  const devices = await devicesOf(deps, names, scope, f);
  if (devices.length === 0) return { devices: [], stored: true };
  const stored = await fromStore(deps, names, scope, devices, scope.device !== undefined || f.bbox !== undefined);
  if (stored) return { devices: stored, stored: true };
  return { devices: await fromInflux(deps, names, scope, devices, f), stored: false };
}

export function toGeoJson(devices: LatestDevice[]) {
  return {
    type: 'FeatureCollection' as const,
    features: devices.flatMap((d) =>
      d.lat === null || d.lon === null
        ? []
        : [
            {
              type: 'Feature' as const,
              geometry: { type: 'Point' as const, coordinates: [d.lon, d.lat] as [number, number] },
              properties: {
                device: d.device,
                department: d.department,
                type: d.type,
                district: d.district,
                ...Object.fromEntries(d.values.map((v) => [v.quantity, v.value])),
                // ISO strings of one format order like their times.
                time:
                  d.values
                    .map((v) => v.time)
                    .sort()
                    .at(-1) ?? null,
              },
            },
          ],
    ),
  };
}

function serialise(format: Format, devices: LatestDevice[]): string {
  if (format === 'geojson') return JSON.stringify(toGeoJson(devices));
  if (format === 'json') return JSON.stringify({ devices });
  const rows = devices.flatMap((d) =>
    d.values.map((v) => ({
      ...v,
      device: d.device,
      department: d.department,
      district: d.district,
      lat: d.lat,
      lon: d.lon,
    })),
  );
  return toCsv(['device', 'department', 'district', 'lat', 'lon', 'quantity', 'value', 'unit', 'time'], rows);
}

/**
 * Answers a latest read as JSON, CSV (`Accept: text/csv`, `?format=csv`) or GeoJSON (`Accept: application/geo+json`,
 * `?format=geojson`), with a weak ETag of the body and 304 for a matching If-None-Match. Access was resolved before
 * (the scope): a cached answer is only shared by requests of the same scope.
 */
export async function sendLatest(
  deps: ApiDeps,
  req: FastifyRequest,
  reply: unknown,
  names: string[],
  scope: ReadScope,
  f: LatestFilters,
): Promise<FastifyReply> {
  const format: Format = wants(req, 'csv') ? 'csv' : wants(req, 'geojson') ? 'geojson' : 'json';
  const g = scope.grant;
  const key = JSON.stringify([
    format,
    names,
    scope.filter,
    scope.owner,
    g && [g.id, g.quantities, g.deviceTypes, g.districts, g.from, g.to],
    scope.device?.id,
    scope.from,
    scope.to,
    f.district,
    f.bbox,
  ]);
  const store = deps.registry.latest;
  const answer = cacheOf(store).answer(key, await store.version(), () =>
    latestScoped(deps, names, scope, f).then(({ devices, stored }) => ({
      // Bytes, not a string: a shared answer is sent many times and a string would be encoded for each.
      answer: new SharedAnswer(TYPES[format], Buffer.from(serialise(format, devices))),
      versioned: stored,
    })),
  );
  return sendConditional(req, reply, await answer);
}
