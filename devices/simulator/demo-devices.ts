/** The demo devices: a deterministic list spread over the demo city's districts by device-type weight. */
import { type DepartmentId, DISTRICTS, type DistrictId } from './city.ts';
import { DEVICE_TYPE_IDS, DEVICE_TYPES, type DeviceTypeId } from './device-types.ts';
import { mulberry32, type Rng } from './rng.ts';

// ---------------------------------------------------------------------------------------
// Demo devices
// ---------------------------------------------------------------------------------------

export interface DemoDevice {
  /** e.g. `aq-altstadt-01`: lowercase [a-z0-9-], ≤ 64 chars. */
  readonly id: string;
  readonly name: string;
  readonly department: DepartmentId;
  readonly type: DeviceTypeId;
  /** District id, e.g. `suedstadt`. */
  readonly district: string;
  readonly lat: number;
  readonly lon: number;
}

const DISTRICT_NAMES = new Map(DISTRICTS.map((d) => [d.id, d.name]));

/** A demo device as the registry records it (by API or directly): the district by its name, not its slug. */
export function registrationOf(d: DemoDevice) {
  const { id, name, department, type, lat, lon } = d;
  return { id, name, department, type, district: DISTRICT_NAMES.get(d.district) ?? d.district, lat, lon };
}

/** Default seed of the demo fleet: the same city every time. */
export const DEMO_SEED = 0x5005;

/** Splits `count` over the device types proportionally to their weights, ≥ 1 each when possible. */
function allocate(count: number): Map<DeviceTypeId, number> {
  const types = [...DEVICE_TYPE_IDS];
  const alloc = new Map<DeviceTypeId, number>();
  if (count < types.length) {
    // Too few for all types: the heaviest first.
    types.sort((a, b) => DEVICE_TYPES[b].weight - DEVICE_TYPES[a].weight);
    for (const [i, t] of types.entries()) alloc.set(t, i < count ? 1 : 0);
    return alloc;
  }
  const total = types.reduce((s, t) => s + DEVICE_TYPES[t].weight, 0);
  const target = (t: DeviceTypeId) => (DEVICE_TYPES[t].weight * count) / total;
  for (const t of types) alloc.set(t, Math.max(1, Math.floor(target(t))));
  let sum = [...alloc.values()].reduce((s, n) => s + n, 0);
  const deficit = (t: DeviceTypeId) => target(t) - (alloc.get(t) ?? 0);
  while (sum < count) {
    const t = types.reduce((best, c) => (deficit(c) > deficit(best) ? c : best));
    alloc.set(t, (alloc.get(t) ?? 0) + 1);
    sum++;
  }
  while (sum > count) {
    const candidates = types.filter((t) => (alloc.get(t) ?? 0) > 1);
    const t = candidates.reduce((best, c) => (deficit(c) < deficit(best) ? c : best));
    alloc.set(t, (alloc.get(t) ?? 0) - 1);
    sum--;
  }
  return alloc;
}

function jitter(rng: Rng, centre: number, radius: number): number {
  return Math.round((centre + (rng() * 2 - 1) * radius) * 1e6) / 1e6;
}

/**
 * The demo fleet: `count` devices (default 48) spread over all types and districts with
 * coordinates jittered around the district centres. Deterministic for a given `seed`.
 * Types are interleaved, so any prefix of the list is itself a mixed fleet.
 */
export function demoDevices(count = 48, seed: number = DEMO_SEED): DemoDevice[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const rng = mulberry32(seed);
  const districtById = new Map(DISTRICTS.map((d) => [d.id, d]));
  const alloc = allocate(count);
  const perType: DemoDevice[][] = [];
  for (const typeId of DEVICE_TYPE_IDS) {
    const type = DEVICE_TYPES[typeId];
    const n = alloc.get(typeId) ?? 0;
    const counters = new Map<string, number>();
    const list: DemoDevice[] = [];
    for (let i = 0; i < n; i++) {
      const districtId = type.districts[i % type.districts.length] as DistrictId;
      const district = districtById.get(districtId);
      if (!district) throw new Error(`unknown district ${districtId}`);
      const nr = (counters.get(districtId) ?? 0) + 1;
      counters.set(districtId, nr);
      const nn = String(nr).padStart(2, '0');
      list.push({
        id: `${type.idPrefix}-${district.id}-${nn}`,
        name: `${type.name} ${district.name} ${nn}`,
        department: type.department,
        type: typeId,
        district: district.id,
        lat: jitter(rng, district.lat, 0.0045), // ≈ ±500 m
        lon: jitter(rng, district.lon, 0.0065),
      });
    }
    perType.push(list);
  }
  // Interleave the types round-robin.
  const out: DemoDevice[] = [];
  for (let i = 0; out.length < count; i++) {
    for (const list of perType) {
      const d = list[i];
      if (d) out.push(d);
    }
  }
  return out;
}
