import { describe, expect, it } from 'vitest';
import { parseStaTopic } from '../../../../services/api/sta/mqtt-topics.ts';

describe('SensorThings MQTT topics', () => {
  it('reads every read topic of the MQTT extension into what it asks for', () => {
    const cases: Array<[string, unknown]> = [
      ['v1.1/Observations', { t: { k: 'observations' } }],
      ["v1.1/Datastreams('aq-1:pm10')/Observations", { t: { k: 'observations', stream: 'aq-1:pm10' } }],
      ["v1.1/Things('aq-1')/Datastreams('aq-1:pm10')/Observations", { t: { k: 'observations', stream: 'aq-1:pm10' } }],
      ["v1.1/FeaturesOfInterest('aq-1')/Observations", { t: { k: 'observations', device: 'aq-1' } }],
      ['v1.1/Things', { t: { k: 'set', type: 'Thing' } }],
      ['v1.1/HistoricalLocations', { t: { k: 'set', type: 'HistoricalLocation' } }],
      ["v1.1/Things('it''s')", { t: { k: 'entity', type: 'Thing', id: "it's" } }],
      ['v1.1/Sensors(7)', { t: { k: 'entity', type: 'Sensor', id: '7' } }],
      ["v1.1/Things('aq-1')/name", { t: { k: 'property', type: 'Thing', id: 'aq-1', name: 'name' } }],
      ["v1.1/Things('aq-1')/Datastreams", { t: { k: 'set', type: 'Datastream', via: { type: 'Thing', id: 'aq-1' } } }],
      [
        "v1.1/Datastreams('aq-1:pm10')/Thing",
        { t: { k: 'set', type: 'Thing', via: { type: 'Datastream', id: 'aq-1:pm10' } } },
      ],
      [
        'v1.1/Observations?$select=result,phenomenonTime',
        { t: { k: 'observations' }, select: new Set(['result', 'phenomenonTime']) },
      ],
    ];
    for (const [topic, want] of cases) expect([topic, parseStaTopic(topic)]).toStrictEqual([topic, want]);
  });

  it('says what is wrong with a topic it does not serve', () => {
    const cases: Array<[string, string]> = [
      ['sus/v1/devices/x/up', "a SensorThings topic starts with 'v1.1/'"],
      ['v1.1/#', 'wildcards are not served: subscribe to an entity set instead'],
      ['v1.1/Nonsense', "'Nonsense' is not an entity set"],
      ["v1.1/Things('a", `'Things('a' is not a resource path segment`],
      [
        "v1.1/Observations('a:b:1')",
        'Observations(a:b:1): Observations do not change once made; subscribe to a set of them',
      ],
      ["v1.1/Things('a')/colour", "'colour' is neither a property nor a navigation property of Thing"],
      ['v1.1/Observations?$top=1', "'$top': a topic takes $select only"],
      ["v1.1/Things('a')/Datastreams('b:pm10')/Observations", "Datastream 'b:pm10' is not one of Thing 'a'"],
      [
        "v1.1/Sensors('s')/Datastreams/Observations",
        "'Datastreams' is a collection: a key must follow it before 'Observations'",
      ],
      [
        "v1.1/Things('a')/Locations('a')/Things('a')/name",
        'a topic names a set, an entity, a property or a navigation property',
      ],
    ];
    for (const [topic, message] of cases)
      expect([
        topic,
        (() => {
          try {
            parseStaTopic(topic);
            return 'parsed';
          } catch (err) {
            return (err as Error).message;
          }
        })(),
      ]).toStrictEqual([topic, message]);
  });
});
