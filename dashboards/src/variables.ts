import { QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './datasource.ts';

/** The tag-backed template variables; the name is the tag key and the `$name` used in queries. */
export type TagVariable = 'department' | 'district' | 'device' | 'node';

const LABELS: Record<TagVariable, string> = {
  department: 'Department',
  district: 'District',
  device: 'Device',
  node: 'Node',
};

const ident = (s: string) => `"${s}"`;

/** `"department" =~ /^$department$/ AND …`: with "All" Grafana substitutes `.*`, with several values `(a|b)`. */
export function tagFilter(vars: readonly TagVariable[]): string {
  return vars.map((v) => `${ident(v)} =~ /^$${v}$/`).join(' AND ');
}

/**
 * A multi-value variable over the values of one tag, restricted to the dashboard's measurements and to the
 * variables before it, so a department's dashboard only offers its own districts and devices.
 */
export function tagVariable(key: TagVariable, measurements: readonly string[], after: readonly TagVariable[] = []) {
  const from = measurements.length > 0 ? ` FROM ${measurements.map(ident).join(',')}` : '';
  const where = after.length > 0 ? ` WHERE ${tagFilter(after)}` : '';
  const query = `SHOW TAG VALUES${from} WITH KEY = ${ident(key)}${where}`;
  return new QueryVariableBuilder(key)
    .label(LABELS[key])
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** Where a device stands: department, district, device, each variable narrowed by those before it. */
export const LOCATION: readonly TagVariable[] = ['department', 'district', 'device'];

/** The filter of every query on a dashboard with {@link locationVariables}. */
export const LOCATION_FILTER = tagFilter(LOCATION);

/** The department → district → device variables over `measurements`. */
export function locationVariables(measurements: readonly string[]) {
  return LOCATION.map((key, i) => tagVariable(key, measurements, LOCATION.slice(0, i)));
}

/**
 * A single-choice variable over the quantities that the selected devices actually report, used as a measurement
 * regex (`FROM /^$quantity$/`); `quantities` bounds it to the dashboard's domain and keeps self-metrics out.
 */
export function quantityVariable(quantities: readonly string[], after: readonly TagVariable[]) {
  const where = after.length > 0 ? ` WHERE ${tagFilter(after)}` : '';
  const query = `SHOW MEASUREMENTS WITH MEASUREMENT =~ /^(${quantities.join('|')})$/${where}`;
  return new QueryVariableBuilder('quantity')
    .label('Quantity')
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(false)
    .includeAll(false);
}
