import type { FastifyReply, FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';
import { devicesInScope, type ReadScope } from './access.ts';
import { sendCsv, sendRaw, wants } from './csv.ts';
import type { ApiDeps } from './deps.ts';
import { queryLatestMany } from './readings-query.ts';

// Latest values change at most once per ingest flush (SUS_WRITE_FLUSH_MS, 1 s by default): identical requests share
// the answer in flight and for LATEST_TTL_MS after it, so a map that many clients poll costs one registry listing and
// one `last()` per second instead of one per request (each takes hundreds of ms for 10,000 devices).
const LATEST_TTL_MS = 1000;
interface Entry {
  done: number | undefined;
  rows: Promise<LatestDevice[]>;
}
// Per InfluxDB client: API instances of one process (tests) may read different databases.
const caches = new WeakMap<object, Map<string, Entry>>();

function coalesced(owner: object, key: string, load: () => Promise<LatestDevice[]>): Promise<LatestDevice[]> {
  const inflight = caches.get(owner) ?? new Map<string, Entry>();
  caches.set(owner, inflight);
  const hit = inflight.get(key);
  if (hit && (hit.done === undefined || Date.now() - hit.done < LATEST_TTL_MS)) return hit.rows;
  if (inflight.size > 1000) inflight.clear();
  const entry: Entry = { done: undefined, rows: load() };
  inflight.set(key, entry);
  entry.rows.then(
    () => {
      entry.done = Date.now();
    },
    // A failed query is not kept: the next request tries again.
    () => inflight.delete(key),
  );
  return entry.rows;
}

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

/**
 * Latest values of every device in scope: the registry says which devices (and where they are), one InfluxDB
 * query with GROUP BY "device" gives their last values. Devices × quantities is bounded by the query budget.
 */
export function latestScoped(
  deps: ApiDeps,
  names: string[],
  scope: ReadScope,
  f: LatestFilters,
): Promise<LatestDevice[]> {
  const key = JSON.stringify([
    names,
    scope.filter,
    scope.owner,
    scope.grant?.id,
    scope.device?.id,
    scope.from,
    scope.to,
    f.district,
    f.bbox,
  ]);
  return coalesced(deps.influx, key, () => computeLatest(deps, names, scope, f));
}

async function computeLatest(
  deps: ApiDeps,
  names: string[],
  scope: ReadScope,
  f: LatestFilters,
): Promise<LatestDevice[]> {
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
  if (devices.length === 0) return [];
  // Where is registry data, not a tag: a bounding box names its devices in the query, which otherwise would
  // compute the last value of every device of the department.
  const filter = bbox ? { ...scope.filter, devices: devices.map((d) => d.id) } : scope.filter;
  const rows = await queryLatestMany(deps.influx, deps.catalogue, names, filter, scope.from, scope.to);

  const byDevice = new Map<string, LatestDevice['values']>();
  for (const r of rows) {
    let list = byDevice.get(r.device);
    if (!list) {
      list = [];
      byDevice.set(r.device, list);
    }
    list.push({ quantity: r.quantity, value: r.value, unit: r.unit, time: r.time });
  }
  return devices.flatMap((d) => {
    const values = byDevice.get(d.id);
    if (!values) return [];
    values.sort((a, b) => a.quantity.localeCompare(b.quantity));
    return [
      { device: d.id, department: d.department, type: d.type, district: d.district, lat: d.lat, lon: d.lon, values },
    ];
  });
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

/** JSON, CSV (`Accept: text/csv`) or GeoJSON (`Accept: application/geo+json`, `?format=geojson`). */
export function sendLatest(req: FastifyRequest, reply: FastifyReply | unknown, devices: LatestDevice[]) {
  if (wants(req, 'csv')) {
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
    return sendCsv(
      reply,
      ['device', 'department', 'district', 'lat', 'lon', 'quantity', 'value', 'unit', 'time'],
      rows,
    );
  }
  if (wants(req, 'geojson')) return sendRaw(reply, 200, 'application/geo+json', JSON.stringify(toGeoJson(devices)));
  return undefined;
}
