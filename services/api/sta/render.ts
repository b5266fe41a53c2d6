import { type Entity, NAVIGATION, quoteKey, SET_OF } from './model.ts';

/** The absolute address of an entity under the service root `base`. */
export const selfLink = (base: string, e: Entity) => `${base}/${SET_OF[e.type]}(${quoteKey(e.id)})`;

/**
 * An entity's JSON without expansions, trimmed to `select` when given: the one rendering behind HTTP answers and
 * MQTT notifications, so the two cannot drift. Without a `base` (MQTT with no SUS_PUBLIC_API_URL: no request to
 * take the host from) the self and navigation links are left out.
 */
export function entityJson(e: Entity, base: string | undefined, select?: ReadonlySet<string>): Record<string, unknown> {
  const want = (k: string) => !select || select.has(k);
  const out: Record<string, unknown> = {};
  if (want('id') || want('@iot.id')) out['@iot.id'] = e.id;
  const self = base === undefined ? undefined : selfLink(base, e);
  if (self && (want('selfLink') || want('@iot.selfLink'))) out['@iot.selfLink'] = self;
  for (const [k, val] of Object.entries(e.props)) if (want(k)) out[k] = val;
  if (self)
    for (const nav of Object.keys(NAVIGATION[e.type]))
      if (want(nav)) out[`${nav}@iot.navigationLink`] = `${self}/${nav}`;
  return out;
}
