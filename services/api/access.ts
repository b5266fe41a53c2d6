import type { FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';
import { type Device, type Grant, grantCovers, grantMismatch } from '../registry/index.ts';
import { actingDepartment } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import type { SeriesFilter } from './readings-query.ts';

/** What a read asks for, before access rights narrow it. */
export interface ReadRequest {
  department?: string;
  device?: string;
  district?: string;
  /** The quantities read; a shared read must name them (grants are per quantity). */
  quantities?: string[];
  /** Raw readings (no aggregation) or the aggregation window in seconds. */
  everyS?: number;
  from?: number;
  to?: number;
}

/** The read as it may run: tag filters, clamped time range, and the grant it went through (if any). */
export interface ReadScope {
  filter: SeriesFilter;
  from?: number;
  to?: number;
  grant?: Grant;
  device?: Device;
  /** The department whose data is read (undefined: every department, platform-wide keys). */
  owner?: string;
}

const deviceNotFound = (id: string) =>
  new SusError('SUS_ERR_DEVICE_NOT_FOUND', `device '${id}' does not exist`, 404, { device: id });

/**
 * Resolves who may read what. A department reads its own data freely; another department's data only through an
 * active grant (to it or to the public) that covers the quantities, device types, districts, time window and
 * aggregation level asked for — and every such read is written to the owner's audit log. `reader` null is an
 * anonymous open-data read.
 */
export async function resolveRead(
  deps: ApiDeps,
  req: FastifyRequest,
  r: ReadRequest,
  opts: { reader?: string | null; grantId?: string } = {},
): Promise<ReadScope> {
  const reader = opts.reader !== undefined ? opts.reader : (actingDepartment(req) ?? undefined);
  let device: Device | undefined;
  if (r.device !== undefined) {
    device = await deps.registry.getDevice(r.device);
    if (!device) throw deviceNotFound(r.device);
  }
  const owner = device?.department ?? r.department ?? reader ?? undefined;
  if (r.department !== undefined && device && device.department !== r.department) throw deviceNotFound(r.device!);
  const filter: SeriesFilter = { device: r.device, department: owner, district: r.district };
  // Platform-wide keys and a department's own data: no grant involved.
  if (reader === undefined || (reader !== null && owner === reader))
    return { filter, from: r.from, to: r.to, device, owner };
  if (owner === undefined) throw new SusError('SUS_ERR_VALIDATION', 'name a department or device to read', 400);

  const candidates = (await deps.grants.active(owner, reader)).filter(
    (g) => opts.grantId === undefined || g.id === opts.grantId,
  );
  const reasons = candidates.map((g) =>
    grantMismatch(g, {
      quantities: r.quantities ?? [],
      // A named device is checked as it is; `district` then only narrows the answer.
      ...(device
        ? { deviceType: device.type, district: device.district }
        : r.district !== undefined
          ? { district: r.district }
          : {}),
      raw: r.everyS === undefined,
      ...(r.everyS !== undefined ? { everyS: r.everyS } : {}),
    }),
  );
  const grant = candidates.find((_g, i) => reasons[i] === undefined);
  if (!grant) {
    // A device no grant covers stays undisclosed; a department's data is plainly not shared.
    if (device && !candidates.some((g) => grantCovers(g, { deviceType: device.type, district: device.district })))
      throw deviceNotFound(device.id);
    if (reasons.includes('floor')) {
      const floor = Math.min(...candidates.map((g) => g.aggregationFloorS ?? 0));
      throw new SusError(
        'SUS_ERR_AGGREGATION_FLOOR',
        `department '${owner}' shares this data only aggregated over at least ${floor} s: use /v1/readings/aggregate with every >= ${floor}s`,
        403,
        { floorS: floor },
      );
    }
    throw new SusError(
      'SUS_ERR_NOT_SHARED',
      `department '${owner}' has not shared ${r.quantities?.length ? r.quantities.join(', ') : 'this data (name the quantity)'} with ${reader ?? 'the public'}`,
      403,
      { department: owner },
    );
  }
  const grantFrom = grant.from ? Date.parse(grant.from) : undefined;
  const grantTo = grant.to ? Date.parse(grant.to) : undefined;
  const from = grantFrom !== undefined && (r.from === undefined || r.from < grantFrom) ? grantFrom : r.from;
  const to = grantTo !== undefined && (r.to === undefined || r.to > grantTo) ? grantTo : r.to;
  await deps.audit.record({
    grantId: grant.id,
    owner,
    reader,
    keyId: req.principal?.id ?? null,
    route: req.routeOptions.url ?? req.url,
    query: { ...(req.query as Record<string, unknown>), ...(req.params as Record<string, unknown>) },
  });
  return {
    filter: { ...filter, deviceTypes: grant.deviceTypes, districts: grant.districts },
    from,
    to,
    grant,
    device,
    owner,
  };
}

/**
 * The registry's devices a read covers: the named device or the owner's devices (every department's for
 * platform-wide keys), narrowed by the request's district and the grant it goes through. Latest values and the
 * aggregate budget count these; the InfluxDB filters (whereClause) select the same devices.
 */
export async function devicesInScope(
  deps: ApiDeps,
  scope: ReadScope,
  district?: string,
  /** Only id, department, type, district and location are used: a list remembered per store version will do. */
  placeOnly = false,
): Promise<Device[]> {
  const all = scope.device
    ? [scope.device]
    : placeOnly
      ? await deps.placedDevices(scope.owner)
      : await deps.registry.listDevices({ department: scope.owner });
  const d0 = district ?? scope.filter.district;
  const grant = scope.grant;
  return all.filter(
    (d) =>
      (d0 === undefined || d.district === d0) &&
      (!grant || grantCovers(grant, { deviceType: d.type, district: d.district })),
  );
}
