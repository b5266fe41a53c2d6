import type { Catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import type { InfluxQuery } from '../common/influx.ts';
import type { Registry } from '../registry/index.ts';

/** What the routes need; handed in by whoever composes the process (sus run, sus api, tests). */
export interface ApiContext {
  registry: Registry;
  influx: InfluxQuery;
  catalogue: Catalogue;
  config: Pick<Config, 'SUS_QUERY_MAX_POINTS' | 'SUS_MQTT_PORT'>;
}
