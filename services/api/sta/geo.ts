/**
 * The planar geometry the SensorThings filter functions need (geo.distance, geo.length, geo.intersects, st_*), on
 * GeoJSON Points, LineStrings and Polygons in their own coordinates (degrees for WGS84), as FROST-Server and the OGC
 * test suite compute them. Well-Known Text literals (`geography'POINT(8 51)'`) are parsed here too.
 */
export type Position = [number, number];
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'Polygon'; coordinates: Position[][] };

/** Longest WKT literal accepted: a polygon of a few hundred vertices, not a city's boundary in full detail. */
const MAX_WKT_VERTICES = 1000;

export class WktError extends Error {}

function positions(s: string): Position[] {
  const out: Position[] = [];
  for (const pair of s.split(',')) {
    const nums = pair.trim().split(/\s+/).map(Number);
    if (nums.length < 2 || nums.length > 3 || nums.some((n) => !Number.isFinite(n)))
      throw new WktError(`'${pair.trim()}' is not a position (two numbers: longitude latitude)`);
    out.push([nums[0]!, nums[1]!]);
    if (out.length > MAX_WKT_VERTICES) throw new WktError(`more than ${MAX_WKT_VERTICES} vertices`);
  }
  return out;
}

/** POINT, LINESTRING and POLYGON in Well-Known Text (an optional `SRID=4326;` prefix is accepted). */
export function parseWkt(text: string): Geometry {
  const t = text.trim().replace(/^SRID=4326;/i, '');
  const m = /^(POINT|LINESTRING|POLYGON)\s*\((.*)\)$/is.exec(t);
  if (!m) throw new WktError(`'${text}' is not a POINT, LINESTRING or POLYGON in Well-Known Text`);
  const kind = m[1]!.toUpperCase();
  const body = m[2]!;
  if (kind === 'POINT') {
    const [p, ...rest] = positions(body);
    if (!p || rest.length) throw new WktError('a POINT has one position');
    return { type: 'Point', coordinates: p };
  }
  if (kind === 'LINESTRING') {
    const ps = positions(body);
    if (ps.length < 2) throw new WktError('a LINESTRING has at least two positions');
    return { type: 'LineString', coordinates: ps };
  }
  const rings = [...body.matchAll(/\(([^()]*)\)/g)].map((r) => positions(r[1]!));
  if (rings.length === 0 || rings.some((r) => r.length < 4))
    throw new WktError('a POLYGON has rings of at least four positions');
  return { type: 'Polygon', coordinates: rings };
}

const segmentsOf = (g: Geometry): Array<[Position, Position]> => {
  const lines = g.type === 'Point' ? [] : g.type === 'LineString' ? [g.coordinates] : g.coordinates;
  return lines.flatMap((l) => l.slice(1).map((p, i): [Position, Position] => [l[i]!, p]));
};
const verticesOf = (g: Geometry): Position[] =>
  g.type === 'Point' ? [g.coordinates] : g.type === 'LineString' ? g.coordinates : g.coordinates.flat();

const cross = (o: Position, a: Position, b: Position) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
const onSegment = (p: Position, a: Position, b: Position) =>
  cross(a, b, p) === 0 &&
  Math.min(a[0], b[0]) <= p[0] &&
  p[0] <= Math.max(a[0], b[0]) &&
  Math.min(a[1], b[1]) <= p[1] &&
  p[1] <= Math.max(a[1], b[1]);

function segmentsIntersect([a, b]: [Position, Position], [c, d]: [Position, Position]): boolean {
  const d1 = cross(c, d, a);
  const d2 = cross(c, d, b);
  const d3 = cross(a, b, c);
  const d4 = cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return onSegment(a, c, d) || onSegment(b, c, d) || onSegment(c, a, b) || onSegment(d, a, b);
}

/** Inside or on the boundary of a polygon (holes excluded), by ray casting. */
function inPolygon(p: Position, rings: Position[][]): boolean {
  const inRing = (ring: Position[]) => {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]!;
      const [xj, yj] = ring[j]!;
      if (onSegment(p, ring[i]!, ring[j]!)) return true;
      if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
  const [outer, ...holes] = rings;
  return (
    !!outer &&
    inRing(outer) &&
    !holes.some((h) => inRing(h) && !h.some((_, i) => onSegment(p, h[i]!, h[(i + 1) % h.length]!)))
  );
}

function pointOn(p: Position, g: Geometry): boolean {
  if (g.type === 'Point') return p[0] === g.coordinates[0] && p[1] === g.coordinates[1];
  if (g.type === 'Polygon') return inPolygon(p, g.coordinates);
  return segmentsOf(g).some(([a, b]) => onSegment(p, a, b));
}

export function intersects(a: Geometry, b: Geometry): boolean {
  if (verticesOf(a).some((p) => pointOn(p, b)) || verticesOf(b).some((p) => pointOn(p, a))) return true;
  const sb = segmentsOf(b);
  return segmentsOf(a).some((s) => sb.some((t) => segmentsIntersect(s, t)));
}

/** Every vertex of `a` lies in `b` and no edge of `a` leaves it (enough for the points and shapes of a city). */
export function within(a: Geometry, b: Geometry): boolean {
  if (!verticesOf(a).every((p) => pointOn(p, b))) return false;
  if (b.type !== 'Polygon' || a.type === 'Point') return true;
  // An edge of `a` that properly crosses the boundary of `b` leaves it.
  const sb = segmentsOf(b);
  return !segmentsOf(a).some(([p, q]) =>
    sb.some(([c, d]) => {
      const d1 = cross(c, d, p);
      const d2 = cross(c, d, q);
      const d3 = cross(p, q, c);
      const d4 = cross(p, q, d);
      return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
    }),
  );
}

const dist = (p: Position, q: Position) => Math.hypot(p[0] - q[0], p[1] - q[1]);
function pointSegment(p: Position, [a, b]: [Position, Position]): number {
  const len2 = (b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2;
  if (len2 === 0) return dist(p, a);
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * (b[0] - a[0]) + (p[1] - a[1]) * (b[1] - a[1])) / len2));
  return dist(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
}

/** Shortest planar distance between two geometries, 0 where they meet. */
export function distance(a: Geometry, b: Geometry): number {
  if (intersects(a, b)) return 0;
  let best = Number.POSITIVE_INFINITY;
  const sa = segmentsOf(a);
  const sb = segmentsOf(b);
  for (const p of verticesOf(a)) {
    for (const q of verticesOf(b)) best = Math.min(best, dist(p, q));
    for (const s of sb) best = Math.min(best, pointSegment(p, s));
  }
  for (const p of verticesOf(b)) for (const s of sa) best = Math.min(best, pointSegment(p, s));
  return best;
}

export const length = (g: Geometry): number =>
  g.type === 'LineString' ? segmentsOf(g).reduce((s, [p, q]) => s + dist(p, q), 0) : 0;

export const equals = (a: Geometry, b: Geometry): boolean => JSON.stringify(a) === JSON.stringify(b);
