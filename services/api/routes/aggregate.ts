import type { FastifyReply, FastifyRequest } from 'fastify';
import { SusError } from '../../common/errors.ts';
import { durationS } from '../../common/grammar.ts';
import { DAY_MS, ROLLUP } from '../../common/rollups.ts';
import type { Device } from '../../registry/index.ts';
import { devicesInScope, type ReadRequest, type ReadScope } from '../access.ts';
import {
  type AggregatePlan,
  type AggregateSource,
  isRollupFn,
  type PlanPart,
  planAggregate,
  type RollupCoverage,
} from '../aggregate-plan.ts';
import { toCsv, wants } from '../csv.ts';
import type { ApiDeps } from '../deps.ts';
import { SharedAnswer, sendConditional } from '../etag.ts';
import {
  type AggregateFn,
  type AggregateSeries,
  type GroupBy,
  measurements,
  queryAggregate,
  queryAggregateParts,
} from '../readings-query.ts';
import { AggregateSchema } from '../schemas.ts';

/** The response header that names the aggregate's source, as the body's `source` does. */
export const SOURCE_HEADER = 'sus-source';

export interface AggregateParams {
  quantity: string;
  from?: number;
  to?: number;
  every: string;
  fn: AggregateFn;
  groupBy?: GroupBy;
}

/** What an aggregate answer is made of, as the API sends it. */
export interface AggregateResult {
  quantity: string;
  unit: string;
  fn: AggregateFn;
  every: string;
  from: string;
  to: string;
  source: AggregateSource;
  series: AggregateSeries[];
}

const TYPES = { json: 'application/json; charset=utf-8', csv: 'text/csv; charset=utf-8' } as const;

/**
 * Answers an aggregate read as JSON or CSV (`Accept: text/csv`, `?format=csv`), with the `Sus-Source` header and a
 * weak ETag (304 for a matching If-None-Match). Shared by the keyed and the open-data routes; `resolve` applies their
 * access rules. An answer read from the daily rollups alone, for a range the request names (`to` given), is built
 * once per node and sent to the requests after it (a dashboard's year of daily means): its days change only when
 * the rollup engine rewrites them, which moves the quantity's generation, and days made stale by late readings are
 * read raw by the plan, which such a request then is not kept for. Raw parts change with every reading, and a
 * request without `to` ends at a new `now` each time: neither is kept. The key holds the access filter `resolve`
 * narrowed the read to, so no reader gets an answer built for another's filter.
 */
export async function sendAggregate(
  deps: ApiDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  q: AggregateParams,
  resolve: (r: ReadRequest) => Promise<ReadScope>,
): Promise<FastifyReply> {
  const format = wants(req, 'csv') ? 'csv' : 'json';
  const read = await prepareAggregate(deps, q, resolve);
  const { plan, scope, coverage } = read;
  const build = async () => {
    const result = await aggregateOf(deps, q, read);
    const body =
      format === 'csv'
        ? toCsv(['time', 'group', 'value'], csvRows(result.series))
        : JSON.stringify(AggregateSchema.parse(result));
    // Bytes, not a string: a kept answer is sent many times and a string would be encoded for each.
    return { answer: new SharedAnswer(TYPES[format], Buffer.from(body)), versioned: true };
  };
  const kept = q.to !== undefined && isRollupFn(q.fn) && plan.parts.every((p) => p.source === '1d');
  const answer = kept
    ? deps.aggregateAnswers.answer(
        JSON.stringify([
          format,
          read.quantity,
          q.fn,
          q.every,
          read.from,
          read.to,
          q.groupBy ?? null,
          scope.filter,
          scope.owner ?? null,
          scope.grant?.id ?? null,
        ]),
        JSON.stringify([coverage.generation, plan.parts]),
        build,
      )
    : build().then((b) => b.answer);
  sourceHeader(reply, plan.source);
  return sendConditional(req, reply, await answer);
}

/** One aggregate read as it may run: after access, budget and plan; before any InfluxDB query. */
interface PreparedAggregate {
  quantity: string;
  scope: ReadScope;
  from: number;
  to: number;
  everyS: number;
  coverage: RollupCoverage & { generation: string };
  plan: AggregatePlan;
}

/**
 * The budget checks of an aggregate read. Both bounds are checked BEFORE anything reaches InfluxDB: the windows ×
 * groups returned (even with fill(none) InfluxDB walks every window of the range, so an unbounded GROUP BY time
 * never runs), and the stored points InfluxDB must read for them — raw readings of the range, or one rollup point
 * per window and device where rollups answer (aggregate-plan.ts): a year of daily means fits where a year of raw
 * minutes does not.
 */
async function prepareAggregate(
  deps: ApiDeps,
  q: AggregateParams,
  resolve: (r: ReadRequest) => Promise<ReadScope>,
): Promise<PreparedAggregate> {
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
  const devices = await devicesInScope(deps, scope, undefined, true);
  const groups = groupCount(devices, scope, q.groupBy);
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
  const coverage = await deps.rollupCoverage(quantity!);
  const plan = planAggregate({ from, to, everyS, fn: q.fn }, coverage);
  await checkScan(deps, plan, devices, { everyS, fn: q.fn });
  return { quantity: quantity!, scope, from, to, everyS, coverage, plan };
}

/** The aggregate query of a prepared read. */
async function aggregateOf(deps: ApiDeps, q: AggregateParams, read: PreparedAggregate): Promise<AggregateResult> {
  const { quantity, scope, from, to, everyS, coverage, plan } = read;
  const base = { from, to, everyS, groupBy: q.groupBy };
  // Whole days of the daily rollups come from this node's cache of them (rollup-cache.ts), read under the generation
  // read with the stale hours: days the plan reads raw (stale) are not asked for.
  const cached = (part: PlanPart) =>
    part.source === '1d' && part.from % DAY_MS === 0 && part.to % DAY_MS === 0
      ? deps.dailyRollups.read(quantity, scope.filter, q.groupBy, part, coverage.generation)
      : undefined;
  const series =
    plan.source !== 'raw' && isRollupFn(q.fn)
      ? await queryAggregateParts(deps.influx, quantity, scope.filter, {
          ...base,
          parts: plan.parts,
          fn: q.fn,
          cached,
        })
      : await queryAggregate(deps.influx, quantity, scope.filter, { ...base, fn: q.fn });
  return {
    quantity,
    unit: deps.catalogue.get(quantity)?.unit ?? '',
    fn: q.fn,
    every: q.every,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    source: plan.source,
    series,
  };
}

/** CSV rows of an aggregate: one per point, its group's values joined ('all' without grouping). */
export const csvRows = (series: AggregateSeries[]) =>
  series.flatMap((s) =>
    s.points.map((p) => ({
      time: p.time,
      group: Object.values(s.group).join('') || 'all',
      value: p.value,
    })),
  );

/** Names the source in the `Sus-Source` header too (CSV answers carry no `source` field). */
export const sourceHeader = (reply: FastifyReply, source: AggregateSource) => reply.header(SOURCE_HEADER, source);

/**
 * The stored points InfluxDB would read: per device, its raw readings in the raw parts (range ÷ the expected
 * interval of its type) plus one point per rollup window. Refused with the ways to make it cheaper.
 */
async function checkScan(
  deps: ApiDeps,
  plan: AggregatePlan,
  devices: readonly Device[],
  a: { everyS: number; fn: AggregateFn },
): Promise<void> {
  let perMsRaw = 0;
  // Only raw parts depend on the types' intervals: a plan of rollups alone needs no registry read for them.
  if (plan.parts.some((p) => p.source === 'raw')) {
    const intervals = await deps.types.intervals();
    for (const d of devices) perMsRaw += 1 / ((intervals.get(d.type) ?? deps.config.SUS_DEFAULT_INTERVAL_S) * 1000);
  }
  let cost = 0;
  for (const part of plan.parts) {
    const ms = part.to - part.from;
    cost += part.source === 'raw' ? ms * perMsRaw : (ms / ROLLUP[part.source].ms) * devices.length;
  }
  cost = Math.ceil(cost);
  const budget = deps.config.SUS_QUERY_MAX_SCAN;
  if (cost <= budget) return;
  const hint =
    isRollupFn(a.fn) && a.everyS % 3600 === 0
      ? 'a shorter from/to range or fewer devices (rollups answer whole hours and days only up to the last one computed)'
      : `fn count, min, max, mean or sum with every a whole number of hours or days (answered from rollups), a shorter from/to range, or fewer devices`;
  throw new SusError(
    'SUS_ERR_QUERY_BUDGET',
    `the query would make InfluxDB read about ${cost} stored points of ${devices.length} device(s) (source ${plan.source}), ` +
      `more than the budget of ${budget} (SUS_QUERY_MAX_SCAN): use ${hint}`,
    400,
    { field: 'every', budget, cost, source: plan.source },
  );
}

/** Upper bound of the series a grouped query can return, from the registry (no InfluxDB round trip). */
function groupCount(devices: readonly Device[], scope: ReadScope, groupBy: GroupBy | undefined): number {
  if (!groupBy || scope.filter.device !== undefined) return 1;
  const key =
    groupBy === 'device'
      ? (d: Device) => d.id
      : groupBy === 'district'
        ? (d: Device) => d.district ?? ''
        : (d: Device) => d.department;
  return Math.max(1, new Set(devices.map(key)).size);
}
