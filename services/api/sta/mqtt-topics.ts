import { StaQueryError } from './expression.ts';
import { ENTITY_SETS, type EntitySet, type EntityType, NAVIGATION, segment } from './model.ts';
import { parseOptions } from './query-options.ts';

/** The entity types the registry holds (everything but Observations): notified when a device is added or changed. */
export type RegistryType = Exclude<EntityType, 'Observation'>;

/**
 * What a SensorThings MQTT topic asks for (OGC 18-088 §14.2.2, the read topics of the MQTT extension):
 * - observations: new Observations of every Datastream the reader may read (`v1.1/Observations`), of one Datastream
 *   (`v1.1/Datastreams(<id>)/Observations`, also through its Thing) or of one FeatureOfInterest;
 * - set: entities of a set that are added or change (`v1.1/Things`), or the members of a navigation property of one
 *   entity (`v1.1/Things(<id>)/Datastreams`, `v1.1/Datastreams(<id>)/Thing`);
 * - entity: one entity's updates (`v1.1/Things(<id>)`);
 * - property: one property's new value (`v1.1/Things(<id>)/name`), as `{"name": …}`.
 */
export type StaTopic =
  | { k: 'observations'; stream?: string; device?: string }
  | { k: 'set'; type: RegistryType; via?: { type: RegistryType; id: string } }
  | { k: 'entity'; type: RegistryType; id: string }
  | { k: 'property'; type: RegistryType; id: string; name: string };

export interface ParsedTopic {
  t: StaTopic;
  /** `?$select=a,b`: the properties the payloads keep. */
  select?: ReadonlySet<string>;
}

/** The properties a property topic may name, per type (the entity's own properties of the data model). */
const PROPERTIES: Record<RegistryType, readonly string[]> = {
  Thing: ['name', 'description', 'properties'],
  Location: ['name', 'description', 'encodingType', 'location'],
  HistoricalLocation: ['time'],
  Sensor: ['name', 'description', 'encodingType', 'metadata', 'properties'],
  ObservedProperty: ['name', 'definition', 'description', 'properties'],
  Datastream: ['name', 'description', 'observationType', 'unitOfMeasurement', 'observedArea', 'properties'],
  FeatureOfInterest: ['name', 'description', 'encodingType', 'feature'],
};

export const STA_MQTT_VERSION = 'v1.1/';
/** Longer topics are refused before any parsing (a path of the model never comes near it). */
const MAX_TOPIC_LENGTH = 1024;

const refuse = (message: string) => new StaQueryError(message, 'topic');
const entitySet = (name: string): EntityType => {
  const type = ENTITY_SETS[name as EntitySet];
  if (!type) throw refuse(`'${name}' is not an entity set`);
  return type;
};
const registryType = (type: EntityType, what: string): RegistryType => {
  if (type === 'Observation') throw refuse(`${what}: Observations do not change once made; subscribe to a set of them`);
  return type;
};

/** Parses a SensorThings MQTT topic; throws StaQueryError (option 'topic') saying what is wrong with it. */
export function parseStaTopic(topic: string): ParsedTopic {
  if (topic.length > MAX_TOPIC_LENGTH) throw refuse(`longer than ${MAX_TOPIC_LENGTH} characters`);
  if (!topic.startsWith(STA_MQTT_VERSION)) throw refuse(`a SensorThings topic starts with '${STA_MQTT_VERSION}'`);
  if (/[+#]/.test(topic)) throw refuse('wildcards are not served: subscribe to an entity set instead');
  const q = topic.indexOf('?');
  const path = topic.slice(STA_MQTT_VERSION.length, q < 0 ? undefined : q);
  const parsed: ParsedTopic = { t: parsePath(path.split('/')) };
  if (q >= 0) {
    const params = new URLSearchParams(topic.slice(q + 1));
    const query: Record<string, string> = {};
    for (const [k, v] of params) {
      if (k !== '$select') throw refuse(`'${k}': a topic takes $select only`);
      if (k in query) throw refuse('$select is given more than once');
      query[k] = v;
    }
    const { select } = parseOptions(query);
    if (select) parsed.select = new Set(select);
  }
  return parsed;
}

function parsePath(segs: string[]): StaTopic {
  const [a, b, c, ...rest] = segs.map(segment);
  if (!a || rest.length > 0) throw refuse('a topic names a set, an entity, a property or a navigation property');
  const type = entitySet(a.name);
  if (a.key === undefined) {
    if (b) throw refuse(`'${a.name}' is a set: a key must follow it before '${b.name}'`);
    return type === 'Observation' ? { k: 'observations' } : { k: 'set', type };
  }
  const source = registryType(type, `${a.name}(${a.key})`);
  if (!b) return { k: 'entity', type: source, id: a.key };
  const nav = NAVIGATION[source][b.name];
  if (!nav) {
    if (b.key !== undefined || c || !PROPERTIES[source].includes(b.name))
      throw refuse(`'${b.name}' is neither a property nor a navigation property of ${source}`);
    return { k: 'property', type: source, id: a.key, name: b.name };
  }
  if (nav.type === 'Observation') {
    if (c || b.key !== undefined) throw refuse('nothing follows Observations');
    if (source === 'Datastream') return { k: 'observations', stream: a.key };
    if (source === 'FeatureOfInterest') return { k: 'observations', device: a.key };
    throw refuse(`${source} has no Observations`);
  }
  if (b.key === undefined) {
    if (c) throw refuse(`'${b.name}' is a collection: a key must follow it before '${c.name}'`);
    return { k: 'set', type: nav.type as RegistryType, via: { type: source, id: a.key } };
  }
  // Things(<id>)/Datastreams(<id>)/Observations: the Datastream's Observations through its Thing.
  if (source !== 'Thing' || b.name !== 'Datastreams' || c?.name !== 'Observations' || c.key !== undefined)
    throw refuse('a keyed navigation property is served only as Things(<id>)/Datastreams(<id>)/Observations');
  if (!b.key.startsWith(`${a.key}:`)) throw refuse(`Datastream '${b.key}' is not one of Thing '${a.key}'`);
  return { k: 'observations', stream: b.key };
}
