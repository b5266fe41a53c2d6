import type { Catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import type { InfluxQuery } from '../common/influx.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import type { Registry } from '../registry/index.ts';

/** What the routes need; handed in by whoever composes the process (sus run, sus api, tests). */
export interface ApiContext {
  registry: Registry;
  influx: InfluxQuery;
  catalogue: Catalogue;
  /** Prometheus registry every layer of this process registers its metrics in; served on /metrics. */
  metrics: MetricsRegistry;
  config: Pick<Config, 'SUS_QUERY_MAX_POINTS' | 'SUS_MQTT_PORT'>;
}
