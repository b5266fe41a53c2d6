import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** The InfluxDB data source that dashboards/provisioning/datasources/influxdb.yaml provisions; every panel names it. */
export const DATASOURCE_UID = 'sus-influxdb';
export const DATASOURCE: DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };

/** A raw InfluxQL target of Grafana's InfluxDB data source (the SDK ships no InfluxDB query type). */
export interface InfluxQLTarget extends cog.Dataquery {
  refId: string;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
}

export class InfluxQLBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: InfluxQLTarget;

  constructor(query: string, refId = 'A') {
    this.internal = {
      refId,
      datasource: DATASOURCE,
      query,
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  /** Table results keep tags as columns: what tables, bar gauges per tag and the geomap need. */
  table(): this {
    this.internal.resultFormat = 'table';
    return this;
  }

  /** Series name pattern: `$tag_device`, `$col`, `$m`. */
  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  build(): InfluxQLTarget {
    return this.internal;
  }
}

export const influxql = (query: string, refId = 'A'): InfluxQLBuilder => new InfluxQLBuilder(query, refId);
