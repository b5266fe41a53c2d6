import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { SusError } from '../../common/errors.ts';
import type { ApiDeps } from '../deps.ts';
import { toProblem } from '../problem.ts';
import { publicApiUrl } from '../public-url.ts';
import { StaQueryError } from '../sta/expression.ts';
import {
  ENTITY_SETS,
  type Entity,
  type EntitySet,
  type EntityType,
  NAVIGATION,
  quoteKey,
  SET_OF,
  type Stream,
  segment,
} from '../sta/model.ts';
import { REGISTRY_SETS, registryPage, staysOnPage } from '../sta/pushdown.ts';
import { emptyOptions, parseOptions, type QueryOptions } from '../sta/query-options.ts';
import { entityJson, selfLink } from '../sta/render.ts';
import { StaView } from '../sta/service.ts';

export const STA_PREFIX = '/sta/v1.1';

/** The conformance classes served (OGC 18-088, SensorThings API Part 1: Sensing 1.1). */
export const STA_CONFORMANCE = [
  'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel',
  'http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities',
  'http://www.opengis.net/spec/iot_sensing/1.1/req/request-data',
];

/** Receiving updates via MQTT (OGC 18-088 A.8): served when the broker runs in this process (services/api/sta/mqtt.ts). */
export const STA_MQTT_CONFORMANCE =
  'http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates';

const notFound = (what: string) =>
  new SusError('SUS_ERR_STA_NOT_FOUND', `${what} does not exist or is not visible to this caller`, 404, { path: what });

/** What a resource path addresses. */
type Target =
  | { k: 'collection'; type: EntityType; items: Entity[]; streams?: Stream[]; link: string }
  | { k: 'entity'; e: Entity }
  | { k: 'property'; e: Entity; name: string; raw: boolean }
  | { k: 'ref'; of: Target };

class Renderer {
  constructor(
    private readonly v: StaView,
    private readonly base: string,
  ) {}

  selfLink = (e: Entity) => selfLink(this.base, e);

  async entity(e: Entity, o: QueryOptions): Promise<Record<string, unknown>> {
    const out = entityJson(e, this.base, o.select ? new Set(o.select) : undefined);
    for (const x of o.expand) {
      const nav = NAVIGATION[e.type][x.nav];
      if (!nav) throw new StaQueryError(`'${x.nav}' is not a navigation property of ${e.type}`, '$expand');
      if (nav.type === 'Observation') {
        const page = await this.v.observations(this.v.streamsBehind(e), x.options);
        out[x.nav] = await Promise.all(page.items.map((i) => this.entity(i, x.options)));
        if (page.count !== undefined) out[`${x.nav}@iot.count`] = page.count;
        continue;
      }
      const targets = this.v.navigate(e, x.nav);
      if (!nav.many) {
        out[x.nav] = targets[0] ? await this.entity(targets[0], x.options) : null;
        continue;
      }
      const page = this.v.page(targets, x.options);
      out[x.nav] = await Promise.all(page.items.map((i) => this.entity(i, x.options)));
      if (x.options.count) out[`${x.nav}@iot.count`] = page.count;
    }
    return out;
  }
}

/** Walks a resource path from the service root through sets, keys, navigation properties and properties. */
async function resolvePath(v: StaView, base: string, segs: string[]): Promise<Target> {
  const [head, ...rest] = segs;
  const first = segment(head!);
  const type = ENTITY_SETS[first.name as EntitySet];
  if (!type) throw notFound(first.name);
  let t: Target;
  const link = `${base}/${first.name}`;
  if (type === 'Observation') {
    const streams = [...v.datastreams.values()].map((d) => d.stream!);
    t = { k: 'collection', type, items: [], streams, link };
  } else t = { k: 'collection', type, items: [...v.set(type).values()], link };
  if (first.key !== undefined) t = await pick(v, t, first.key);
  return walk(v, base, t, link, rest);
}

/** The rest of a resource path from what its first segments addressed. */
async function walk(v: StaView, base: string, start: Target, link0: string, rest: string[]): Promise<Target> {
  let t = start;
  let link = link0;
  for (const raw of rest) {
    if (raw === '$ref') {
      t = { k: 'ref', of: t };
      continue;
    }
    if (t.k === 'property' && raw === '$value') {
      t = { ...t, raw: true };
      continue;
    }
    if (t.k !== 'entity') throw new StaQueryError(`'${raw}' cannot follow a collection or a property`, 'path');
    const s = segment(raw);
    const e = t.e;
    const nav = NAVIGATION[e.type][s.name];
    link = `${base}/${SET_OF[e.type]}(${quoteKey(e.id)})/${s.name}`;
    if (nav) {
      if (nav.type === 'Observation')
        t = { k: 'collection', type: nav.type, items: [], streams: v.streamsBehind(e), link };
      else if (nav.many) t = { k: 'collection', type: nav.type, items: v.navigate(e, s.name), link };
      else {
        const [target] = v.navigate(e, s.name);
        if (!target) throw notFound(`${SET_OF[e.type]}(${quoteKey(e.id)})/${s.name}`);
        t = { k: 'entity', e: target };
      }
      if (s.key !== undefined) t = await pick(v, t, s.key);
    } else if (s.key === undefined && (s.name in e.props || s.name === 'id')) {
      t = { k: 'property', e, name: s.name, raw: false };
    } else throw notFound(`${SET_OF[e.type]}(${quoteKey(e.id)})/${raw}`);
  }
  return t;
}

async function pick(v: StaView, t: Target, key: string): Promise<Target> {
  if (t.k !== 'collection') throw new StaQueryError('a key can follow a collection only', 'path');
  if (t.type === 'Observation') {
    const m = /^(.+):(\d{1,16})$/.exec(key);
    const stream = m ? t.streams?.find((s) => s.id === m[1]) : undefined;
    if (!m || !stream) throw notFound(`Observations(${quoteKey(key)})`);
    const page = await v.observations([stream], { ...emptyOptions(), top: 1 }, Number(m[2]));
    if (!page.items[0]) throw notFound(`Observations(${quoteKey(key)})`);
    return { k: 'entity', e: page.items[0] };
  }
  const e = t.items.find((x) => x.id === key);
  if (!e) throw notFound(`${SET_OF[t.type]}(${quoteKey(key)})`);
  return { k: 'entity', e };
}

/** The query string of a next page: the request's own options with $skip moved on. */
function nextLink(link: string, query: Record<string, unknown>, skip: number): string {
  const p = new URLSearchParams();
  for (const [k, val] of Object.entries(query)) if (k !== '$skip' && typeof val === 'string') p.set(k, val);
  p.set('$skip', String(skip));
  return `${link}?${p.toString().replace(/\+/g, '%20')}`;
}

/**
 * OGC SensorThings API 1.1 (read) at /sta/v1.1: the service root, every entity set, entities by id, navigation
 * and property paths, $value and $ref, and the query options. Anonymous callers see what public grants publish; a
 * key sees what its department may read. Errors are the platform's problem body with OData's `error` member.
 */
export const sensorThingsRoutes =
  (deps: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const e =
        err instanceof StaQueryError
          ? new SusError('SUS_ERR_STA_QUERY', `${err.option}: ${err.message}`, 400, { option: err.option })
          : err;
      const body = toProblem(e as FastifyError, req);
      void reply
        .code(body.status)
        .type('application/problem+json')
        .send({ ...body, error: { code: body.code, message: body.detail } });
    });

    const handler = async (req: FastifyRequest) => {
      const base = `${publicApiUrl(deps.config.SUS_PUBLIC_API_URL, req)}${STA_PREFIX}`;
      const rest = ((req.params as Record<string, string | undefined>)['*'] ?? '').replace(/\/+$/, '');
      if (rest === '') {
        return {
          value: Object.keys(ENTITY_SETS).map((name) => ({ name, url: `${base}/${name}` })),
          serverSettings: deps.downlink
            ? {
                conformance: [...STA_CONFORMANCE, STA_MQTT_CONFORMANCE],
                [STA_MQTT_CONFORMANCE]: {
                  endpoints: [`mqtt://${new URL(base).hostname}:${deps.config.SUS_MQTT_PORT}`],
                },
              }
            : { conformance: STA_CONFORMANCE },
        };
      }
      const query = req.query as Record<string, unknown>;
      const o = parseOptions(query);
      const max = deps.config.SUS_STA_MAX_TOP;
      const segs = rest.split('/');
      const first = segment(segs[0]!);
      const set = first.name as EntitySet;
      const tail = segs.slice(1).map((x) => (x.startsWith('$') ? x : segment(x).name));
      if (REGISTRY_SETS[set] && staysOnPage(ENTITY_SETS[set], tail, o.expand)) {
        // The registry selects the page (or the entity): only its devices are read.
        const link = `${base}/${first.name}`;
        if (first.key === undefined && (segs.length === 1 || (segs.length === 2 && segs[1] === '$ref'))) {
          const page = await registryPage(deps, req, max, set, o);
          return collection(new Renderer(page.view, base), page, o, query, link, segs.length === 2);
        }
        if (first.key === undefined) throw new StaQueryError(`'${segs[1]}' cannot follow a collection`, 'path');
        const page = await registryPage(deps, req, max, set, o, first.key);
        const e = page.items[0];
        if (!e) throw notFound(`${first.name}(${quoteKey(first.key)})`);
        const t = await walk(page.view, base, { k: 'entity', e }, link, segs.slice(1));
        return answer(page.view, base, t, o, query);
      }
      const view = await StaView.open(deps, req, max);
      const t = await resolvePath(view, base, segs);
      return answer(view, base, t, o, query);
    };

    /** The body for what a path addressed. */
    const answer = async (view: StaView, base: string, t: Target, o: QueryOptions, query: Record<string, unknown>) => {
      const r = new Renderer(view, base);
      const target = t.k === 'ref' ? t.of : t;
      if (target.k === 'property') {
        const val = target.name === 'id' ? target.e.id : target.e.props[target.name];
        return target.raw
          ? typeof val === 'object'
            ? JSON.stringify(val)
            : String(val)
          : { [target.name]: val ?? null };
      }
      if (target.k === 'entity') {
        if (t.k === 'ref') return { '@iot.selfLink': r.selfLink(target.e) };
        return r.entity(target.e, o);
      }
      if (target.k !== 'collection') throw new StaQueryError('unsupported path', 'path');
      const page =
        target.type === 'Observation' ? await view.observations(target.streams ?? [], o) : view.page(target.items, o);
      return collection(r, page, o, query, target.link, t.k === 'ref');
    };

    const collection = async (
      r: Renderer,
      page: { items: Entity[]; count?: number; more: boolean },
      o: QueryOptions,
      query: Record<string, unknown>,
      link: string,
      ref: boolean,
    ) => {
      const top = Math.min(o.top ?? 100, deps.config.SUS_STA_MAX_TOP);
      const value = ref
        ? page.items.map((e) => ({ '@iot.selfLink': r.selfLink(e) }))
        : await Promise.all(page.items.map((e) => r.entity(e, o)));
      return {
        ...(o.count && page.count !== undefined ? { '@iot.count': page.count } : {}),
        ...(page.more ? { '@iot.nextLink': nextLink(link, query, o.skip + top) } : {}),
        value,
      };
    };
    for (const url of [STA_PREFIX, `${STA_PREFIX}/*`])
      app.get(url, { config: { scope: 'read-or-public' }, schema: { hide: true } }, handler);
  };
