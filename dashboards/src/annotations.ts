import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { type AnnotationQuery, AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './datasource.ts';
import { type TagVariable, tagFilter } from './variables.ts';

/** The measurement the alert engine writes one point to per state change (services/ingest/alerts/engine.ts). */
export const ALERT_MEASUREMENT = 'sus_alert';

/** The tags of a `sus_alert` point that a dashboard's variables can narrow: it has no district tag. */
const ALERT_SCOPES: readonly TagVariable[] = ['department', 'device'];

/** Columns Grafana shows as the annotation's tags; `text` is the sentence the engine writes with each change. */
const TAG_COLUMNS = ['rule', 'device', 'state', 'severity'] as const;

/**
 * Grafana's InfluxQL annotation target (the SDK ships no InfluxDB query type): the columns named here become the
 * annotation's text and tags, `time` its time.
 */
export interface InfluxQLAnnotationTarget extends cog.Dataquery {
  refId: string;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'table';
  fromAnnotations: true;
  textColumn: string;
  tagsColumn: string;
}

/** `SELECT … FROM "sus_alert" WHERE <the dashboard's department/device variables> AND $timeFilter`. */
export function alertAnnotationQuery(scopes: readonly TagVariable[]): string {
  const where = scopes.length > 0 ? `${tagFilter(scopes)} AND ` : '';
  const columns = ['text', ...TAG_COLUMNS].map((c) => `"${c}"`).join(', ');
  return `SELECT ${columns} FROM "${ALERT_MEASUREMENT}" WHERE ${where}$timeFilter`;
}

/**
 * Alert state changes as annotations, narrowed by whichever of the department and device variables the dashboard
 * has; undefined for a dashboard with neither (the platform's own metrics), where no alert belongs.
 */
export function alertAnnotation(variables: readonly string[]): cog.Builder<AnnotationQuery> | undefined {
  const scopes = ALERT_SCOPES.filter((v) => variables.includes(v));
  if (scopes.length === 0) return undefined;
  const target: InfluxQLAnnotationTarget = {
    refId: 'Alerts',
    datasource: DATASOURCE,
    query: alertAnnotationQuery(scopes),
    rawQuery: true,
    resultFormat: 'table',
    fromAnnotations: true,
    textColumn: 'text',
    tagsColumn: TAG_COLUMNS.join(','),
    _implementsDataqueryVariant() {},
  };
  return new AnnotationQueryBuilder()
    .name('Alerts')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('red')
    .target({ build: () => target });
}
