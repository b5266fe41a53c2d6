import type { FastifyRequest } from 'fastify';
import type { CatalogueRow, EntityAccess, EntityRows } from '../../registry/index.ts';
import type { ApiDeps } from '../deps.ts';
import type { Entity, EntitySet, EntityType } from './model.ts';
import { ENTITY_SETS, NAVIGATION, streamId } from './model.ts';
import type { Expand, QueryOptions } from './query-options.ts';
import { StaView } from './service.ts';
import { type Scope, SqlFilter } from './sql.ts';

/** The entity sets whose collections the registry filters, orders and pages in SQL. */
export const REGISTRY_SETS: Partial<Record<EntitySet, EntityRows>> = {
  Things: 'devices',
  Locations: 'located',
  HistoricalLocations: 'located',
  FeaturesOfInterest: 'located',
  Datastreams: 'streams',
  Sensors: 'types',
};

const SCOPE: Record<EntityRows, (set: EntitySet) => Scope> = {
  devices: () => ({ s: 'Thing', d: 'd' }),
  located: (set) => ({ s: ENTITY_SETS[set] as 'Location' | 'HistoricalLocation' | 'FeatureOfInterest', d: 'd' }),
  streams: () => ({ s: 'Datastream', d: 'd', q: 's.q', c: 'c', t: 't' }),
  types: () => ({ s: 'Sensor', t: 't' }),
};
/** Ties are broken by id, as the evaluation in memory orders them. */
const ID: Record<EntityRows, string> = {
  devices: 'd.id COLLATE "C"',
  located: 'd.id COLLATE "C"',
  streams: `(d.id || ':' || s.q) COLLATE "C"`,
  types: 't.id COLLATE "C"',
};

/**
 * Whether a request's path (after the entity set) and expansions stay on the devices of the page the registry
 * selects: a Sensor's or an ObservedProperty's Datastreams reach every device of the fleet, so such requests read
 * the whole view.
 */
export function staysOnPage(root: EntityType, navs: string[], expand: Expand[]): boolean {
  let type = root;
  for (const name of navs) {
    const nav = NAVIGATION[type][name];
    if (!nav) return true;
    if ((type === 'Sensor' || type === 'ObservedProperty') && name === 'Datastreams') return false;
    type = nav.type;
  }
  const ok = (t: EntityType, xs: Expand[]): boolean =>
    xs.every((x) => {
      const nav = NAVIGATION[t][x.nav];
      if (!nav) return true;
      if ((t === 'Sensor' || t === 'ObservedProperty') && x.nav === 'Datastreams') return false;
      return ok(nav.type, x.options.expand);
    });
  return ok(type, expand);
}

const catalogueRows = (deps: ApiDeps): CatalogueRow[] =>
  deps.catalogue.names().map((name) => {
    const q = deps.catalogue.get(name)!;
    return {
      name,
      description: q.description,
      unit: q.unit,
      unitName: q.unitName ?? null,
      unitDefinition: q.unitDefinition ?? null,
      definition: q.definition ?? null,
    };
  });

/**
 * One page of an entity set (or the entity `key`) selected in SQL: the filter, order, `$skip`/`$top` and `$count`
 * run in the registry, which returns only the page's rows (and a count); the view is built from those devices.
 */
export async function registryPage(
  deps: ApiDeps,
  req: FastifyRequest,
  maxTop: number,
  set: EntitySet,
  o: QueryOptions,
  key?: string,
): Promise<{ view: StaView; items: Entity[]; count?: number; more: boolean }> {
  const rows = REGISTRY_SETS[set]!;
  const access = await StaView.access(deps, req);
  const entityAccess: EntityAccess =
    access.reader === undefined
      ? { all: true }
      : {
          all: false,
          department: access.reader,
          // STA serves raw observations: a grant with an aggregation floor does not open a Datastream.
          grants: access.grants
            .filter((g) => g.aggregationFloorS === null)
            .map((g) => ({
              owner: g.owner,
              quantities: g.quantities,
              deviceTypes: g.deviceTypes,
              districts: g.districts,
            })),
        };
  const scope = SCOPE[rows](set);
  const top = Math.min(o.top ?? 100, maxTop);
  const byKey = key !== undefined;
  const page = await deps.registry.entities.page({
    rows,
    access: entityAccess,
    catalogue: catalogueRows(deps),
    where: (ctx) => {
      const conds: string[] = [];
      if (byKey) {
        const k = `${ctx.bind(key)}::text`;
        conds.push(
          rows === 'streams' ? `(d.id || ':' || s.q) = ${k}` : rows === 'types' ? `t.id = ${k}` : `d.id = ${k}`,
        );
      } else if (o.filter) conds.push(new SqlFilter(ctx, '$filter').cond(scope, o.filter));
      return conds.join(' AND ');
    },
    orderBy: (ctx) => [...(byKey ? [] : new SqlFilter(ctx, '$orderby').orderBy(scope, o.orderby)), ID[rows]].join(', '),
    limit: byKey ? 1 : top + 1,
    offset: byKey ? 0 : o.skip,
    count: !byKey && o.count,
  });
  const devices = new Map(page.rows.flatMap((r) => (r.device ? [[r.device.id, r.device] as const] : [])));
  const types = await deps.types.list();
  const view = StaView.build(deps, req, maxTop, access, [...devices.values()], types);
  const typeById = new Map(types.map((t) => [t.id, t]));
  const items: Entity[] = [];
  for (const r of page.rows.slice(0, byKey ? 1 : top)) {
    let e: Entity | undefined;
    if (rows === 'types') {
      const t = typeById.get(r.typeId!);
      if (t) view.addSensor(t);
      e = view.sensors.get(r.typeId!);
    } else if (rows === 'streams') e = view.datastreams.get(streamId(r.device!.id, r.quantity!));
    else e = view.set(ENTITY_SETS[set] as Exclude<EntityType, 'Observation'>).get(r.device!.id);
    if (e) items.push(e);
  }
  return {
    view,
    items,
    ...(page.count !== undefined ? { count: page.count } : {}),
    more: !byKey && page.rows.length > top,
  };
}
