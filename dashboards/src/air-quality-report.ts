import { AIR_QUALITY_POINTS } from '../../services/common/air-quality/points.ts';
import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, table } from './panels.ts';
import { tagFilter, tagVariable } from './variables.ts';

const MEASUREMENTS = ['pm2_5', 'pm10', 'no2'];
const F = tagFilter(['department', 'district', 'device']);
const FROM = `"${AIR_QUALITY_POINTS.policy}"."${AIR_QUALITY_POINTS.measurement}"`;
const INDICATIVE =
  'Low-cost sensors give indicative measurements, not the reference measurements the directives require: an early warning and a planning aid, not an official assessment.';

export const airQualityReport = () =>
  buildDashboard({
    uid: 'sus-air-quality-report',
    title: 'SUS · Air-quality limit values',
    description: `The year's EU air-quality report per station and pollutant: days and hours above the limit values of Directive 2008/50/EC and Directive (EU) 2024/2881 (from 2030), data capture and verdicts, as GET /v1/reports/air-quality computes them from the hourly rollups (written daily by the platform). ${INDICATIVE}`,
    tags: ['air-quality', 'environment', 'report'],
    time: { from: 'now/y', to: 'now/y' },
    variables: [
      tagVariable('department', MEASUREMENTS),
      tagVariable('district', MEASUREMENTS, ['department']),
      tagVariable('device', MEASUREMENTS, ['department', 'district']),
    ],
    panels: [
      table({
        title: 'Limit values and verdicts (indicative measurements)',
        description: `One row per station, pollutant and limit value; a verdict needs the directive's minimum data capture unless the allowed exceedances are already used up. Valid hours hold 75 % of their samples, valid days 18 valid hours. ${INDICATIVE}`,
        unit: 'none',
        width: 24,
        height: 12,
        targets: [
          influxql(
            `SELECT last("verdict") AS "verdict", last("exceedances") AS "exceedances", last("max_exceedances") AS "allowed", last("limit_value") AS "limit value", last("annual_mean") AS "annual mean", last("data_capture") AS "data capture", last("applies") AS "applies" FROM ${FROM} WHERE ${F} AND $timeFilter GROUP BY "device", "quantity", "standard", "period"`,
          ).table(),
        ],
      }),
      barGauge({
        title: 'PM10: days above 50 µg/m³',
        description: `Valid days whose mean PM10 is above 50 µg/m³; Directive 2008/50/EC allows 35 a year. ${INDICATIVE}`,
        unit: 'none',
        width: 12,
        min: 0,
        steps: [{ value: 36, color: 'red', label: 'more than the 35 days a year allowed' }],
        targets: [
          influxql(
            `SELECT last("exceedances") FROM ${FROM} WHERE ${F} AND $timeFilter AND "quantity" = 'pm10' AND "period" = 'day' AND "standard" = '2008/50/EC' GROUP BY "device"`,
          ).alias('$tag_device'),
        ],
      }),
      barGauge({
        title: 'Data capture',
        description:
          "Share of the year's hours with a valid hourly value, per station and pollutant; Directive 2008/50/EC asks 90 %, Directive (EU) 2024/2881 85 %.",
        unit: 'percent',
        width: 12,
        min: 0,
        max: 100,
        base: 'red',
        steps: [
          { value: 85, color: 'yellow', label: 'minimum of Directive (EU) 2024/2881' },
          { value: 90, color: 'green', label: 'minimum of Directive 2008/50/EC' },
        ],
        targets: [
          influxql(
            `SELECT last("data_capture") * 100 FROM ${FROM} WHERE ${F} AND $timeFilter AND "standard" = '2008/50/EC' AND "period" = 'year' GROUP BY "device", "quantity"`,
          ).alias('$tag_device $tag_quantity'),
        ],
      }),
    ],
  });
