import { influxql } from './datasource.ts';
import { type TagVariable, tagFilter } from './variables.ts';

/**
 * Queries over the device_status self-metric (tags device, department, district, device_type; field online 1/0).
 * Presence events are sparse (one per connect or disconnect), so "current status" reads the last event ever,
 * not the last one in the dashboard's time range.
 */
const lastStatus = (vars: readonly TagVariable[], tags: readonly string[] = []) =>
  `SELECT last("online") AS "online" FROM "device_status" WHERE ${tagFilter(vars)} GROUP BY ${['device', ...tags].map((t) => `"${t}"`).join(', ')}`;

export const onlineCount = (vars: readonly TagVariable[]) =>
  influxql(`SELECT sum("online") AS "online" FROM (${lastStatus(vars)})`);

export const offlineCount = (vars: readonly TagVariable[]) =>
  influxql(`SELECT count("online") - sum("online") AS "offline" FROM (${lastStatus(vars)})`);

export const statusByDevice = (vars: readonly TagVariable[], tags: readonly string[] = []) =>
  influxql(lastStatus(vars, tags)).table();

export const devicesPerDepartment = (vars: readonly TagVariable[]) =>
  influxql(
    `SELECT count("online") AS "devices" FROM (${lastStatus(vars, ['department'])}) GROUP BY "department"`,
  ).alias('$tag_department');
