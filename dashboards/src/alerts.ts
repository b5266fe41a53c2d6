import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, stat, table, timeseries } from './panels.ts';
import { tagFilter, tagVariable } from './variables.ts';

/**
 * Alert states and history from the `sus_alert` points the alert engine writes through the spool (one per state
 * change; tags department, device, rule, severity; fields state, value, alert). Read from InfluxDB rather than
 * the API: Grafana already has that datasource and the dashboards' department filter, no API key has to be kept
 * in Grafana, and the same points serve as annotations on the other dashboards.
 */
const ALERT = 'sus_alert';
const F = tagFilter(['department', 'device']);

export const alerts = () =>
  buildDashboard({
    uid: 'sus-alerts',
    title: 'SUS · Alerts',
    description:
      'Alert state changes (pending, firing, resolved) by rule and device, from the sus_alert points: what fired, how often, and the latest changes. Acknowledge and silence through the API (/v1/alerts, /v1/silences).',
    tags: ['alerts', 'operations'],
    time: { from: 'now-7d', to: 'now' },
    variables: [tagVariable('department', [ALERT]), tagVariable('device', [ALERT], ['department'])],
    panels: [
      stat({
        title: 'Firings in range',
        description: 'Alerts that started firing in the selected time range.',
        unit: 'none',
        width: 6,
        steps: [{ value: 1, color: 'red', label: 'at least one alert fired' }],
        targets: [influxql(`SELECT count("alert") FROM "${ALERT}" WHERE "state" = 'firing' AND ${F} AND $timeFilter`)],
      }),
      stat({
        title: 'Resolutions in range',
        description: 'Alerts that resolved in the selected time range.',
        unit: 'none',
        width: 6,
        targets: [
          influxql(`SELECT count("alert") FROM "${ALERT}" WHERE "state" = 'resolved' AND ${F} AND $timeFilter`),
        ],
      }),
      timeseries({
        title: 'State changes',
        description: 'Alert state changes per interval, by state.',
        unit: 'none',
        bars: true,
        targets: [
          influxql(
            `SELECT count("alert") AS "changes" FROM "${ALERT}" WHERE ${F} AND $timeFilter GROUP BY time($__interval), "state" fill(none)`,
          ).alias('$tag_state'),
        ],
      }),
      barGauge({
        title: 'Firings by rule',
        description: 'How often each rule fired in the selected time range: the noisiest rules first to tune.',
        unit: 'none',
        targets: [
          influxql(
            `SELECT count("alert") FROM "${ALERT}" WHERE "state" = 'firing' AND ${F} AND $timeFilter GROUP BY "rule"`,
          ).alias('$tag_rule'),
        ],
      }),
      table({
        title: 'Latest changes',
        description: 'The latest state change of each rule × device in range, with the value that caused it.',
        unit: 'none',
        width: 24,
        height: 10,
        targets: [
          influxql(
            `SELECT last("state") AS "state", last("value") AS "value", last("alert") AS "alert" FROM "${ALERT}" WHERE ${F} AND $timeFilter GROUP BY "rule", "device", "severity"`,
          ),
        ],
      }),
    ],
  });
