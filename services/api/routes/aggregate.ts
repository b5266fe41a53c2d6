import type { FastifyRequest } from 'fastify';
import { SusError } from '../../common/errors.ts';
import { durationS } from '../../common/grammar.ts';
import { devicesInScope, type ReadRequest, type ReadScope } from '../access.ts';
import type { ApiDeps } from '../deps.ts';
import { type AggregateFn, type GroupBy, measurements, queryAggregate } from '../readings-query.ts';

const DAY_MS = 24 * 3600 * 1000;

export interface AggregateParams {
  quantity: string;
  from?: number;
  to?: number;
  every: string;
  fn: AggregateFn;
  groupBy?: GroupBy;
}

/**
 * The budget check and the aggregate query, shared by the keyed and the open-data routes. The number of windows
 * times the number of groups is checked BEFORE anything reaches InfluxDB: even with fill(none) it walks every
 * window of the range, so an unbounded GROUP BY time never runs.
 */
export async function aggregateReadScoped(
  deps: ApiDeps,
  _req: FastifyRequest,
  q: AggregateParams,
  resolve: (r: ReadRequest) => Promise<ReadScope>,
) {
  const [quantity] = measurements(deps.catalogue, q.quantity);
  const everyS = durationS(q.every);
  if (everyS < 1) throw new SusError('SUS_ERR_VALIDATION', '`every` must be at least 1s', 400, { field: 'every' });
  const requestedTo = q.to ?? Date.now();
  const requestedFrom = q.from ?? requestedTo - DAY_MS;
  if (requestedFrom >= requestedTo)
    throw new SusError('SUS_ERR_VALIDATION', '`from` must be before `to`', 400, { field: 'from' });
  const scope = await resolve({ quantities: [quantity!], everyS, from: requestedFrom, to: requestedTo });
  const from = scope.from ?? requestedFrom;
  const to = scope.to ?? requestedTo;
  const windows = Math.ceil((to - from) / (everyS * 1000));
  const groups = await groupCount(deps, scope, q.groupBy);
  const budget = deps.config.SUS_QUERY_MAX_POINTS;
  if (windows * groups > budget) {
    const minEvery = Math.ceil(((to - from) / 1000 / Math.floor(budget / groups)) as number);
    throw new SusError(
      'SUS_ERR_QUERY_BUDGET',
      `${windows} windows × ${groups} group(s) = ${windows * groups} points exceeds the query budget of ${budget}: ` +
        `use every >= ${minEvery}s, a shorter from/to range${q.groupBy ? ', or fewer groups (filter by device or district)' : ''}`,
      400,
      { field: 'every', budget, windows, groups },
    );
  }
  const series = await queryAggregate(deps.influx, quantity!, scope.filter, {
    from,
    to,
    everyS,
    fn: q.fn,
    groupBy: q.groupBy,
  });
  return {
    quantity: quantity!,
    unit: deps.catalogue.get(quantity!)?.unit ?? '',
    fn: q.fn,
    every: q.every,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    series,
  };
}

/** Upper bound of the series a grouped query can return, from the registry (no InfluxDB round trip). */
async function groupCount(deps: ApiDeps, scope: ReadScope, groupBy: GroupBy | undefined): Promise<number> {
  if (!groupBy || scope.filter.device !== undefined) return 1;
  const devices = await devicesInScope(deps, scope);
  const key =
    groupBy === 'device'
      ? (d: (typeof devices)[number]) => d.id
      : groupBy === 'district'
        ? (d: (typeof devices)[number]) => d.district ?? ''
        : (d: (typeof devices)[number]) => d.department;
  return Math.max(1, new Set(devices.map(key)).size);
}
