import { MappingType, type ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { buildDashboard, QUANTITY_REGEX } from './dashboard.ts';
import { DATASOURCE, influxql } from './datasource.ts';
import { offlineCount, onlineCount, statusByDevice } from './fleet.ts';
import { barGauge, type Step, stat, table, thresholds, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION, LOCATION_FILTER, locationVariables } from './variables.ts';

const VARS = LOCATION;
const F = LOCATION_FILTER;

export const BATTERY_STEPS: readonly Step[] = [
  { value: 3.4, color: 'orange', label: 'below: swap the battery now' },
  { value: 3.6, color: 'green', label: 'below: swap at the next visit' },
];
export const RSSI_STEPS: readonly Step[] = [
  { value: -110, color: 'orange', label: 'below: no reliable link' },
  { value: -95, color: 'green', label: 'below: weak link' },
];

export const ONLINE_MAPPING: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'offline', color: 'red', index: 0 }, '1': { text: 'online', color: 'green', index: 1 } },
  },
];

export const fleetHealth = () =>
  buildDashboard({
    uid: 'sus-fleet-health',
    title: 'SUS · Fleet health',
    description: 'Which devices are online, which went silent, and their batteries, signal and message rates.',
    tags: ['fleet', 'devices'],
    variables: [...locationVariables(['device_status'])],
    panels: [
      stat({
        title: 'Online',
        description: 'Devices whose last presence event was "online".',
        unit: 'none',
        width: 6,
        targets: [onlineCount(VARS)],
      }),
      stat({
        title: 'Offline',
        description: 'Devices whose last presence event was "offline" (the broker saw them disconnect).',
        unit: 'none',
        width: 6,
        base: 'green',
        steps: [{ value: 1, color: 'red', label: 'at least one device offline' }],
        targets: [offlineCount(VARS)],
      }),
      new StateTimelineBuilder()
        .title('Online / offline')
        .description("Presence per device over time, from the broker's connect and disconnect events.")
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .mappings(ONLINE_MAPPING)
        .thresholds(thresholds('red', [{ value: 1, color: 'green', label: 'online' }]))
        .targets([
          influxql(
            `SELECT last("online") FROM "device_status" WHERE ${F} AND $timeFilter GROUP BY time($__interval), "device" fill(previous)`,
          ).alias('$tag_device'),
        ]),
      table({
        title: 'Silent devices first: last reading per device',
        description:
          'Time of the last reading of each device over the last 30 days, oldest first: a device at the top that ' +
          'should have reported since has gone silent.',
        unit: 'none',
        targets: [
          influxql(
            `SELECT last("value") FROM ${QUANTITY_REGEX} WHERE ${F} AND time > now() - 30d GROUP BY "device"`,
          ).table(),
        ],
      })
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({
          id: 'groupBy',
          options: {
            fields: {
              device: { aggregations: [], operation: 'groupby' },
              Time: { aggregations: ['max'], operation: 'aggregate' },
            },
          },
        })
        .withTransformation({
          id: 'organize',
          options: { renameByName: { 'Time (max)': 'Last seen' } },
        })
        .withTransformation({ id: 'sortBy', options: { sort: [{ field: 'Last seen', desc: false }] } }),
      table({
        title: 'Offline devices',
        description: 'Devices whose last presence event was "offline", with their district and department.',
        unit: 'none',
        targets: [statusByDevice(VARS, ['district', 'department'])],
      })
        .mappings(ONLINE_MAPPING)
        .withTransformation({
          id: 'filterByValue',
          options: {
            type: 'include',
            match: 'all',
            filters: [{ fieldName: 'online', config: { id: 'equal', options: { value: 0 } } }],
          },
        }),
      timeseries({
        title: 'Battery voltage',
        description: 'Mean battery voltage per interval and device.',
        unit: 'volt',
        stepsLabel: 'V',
        base: 'red',
        steps: BATTERY_STEPS,
        targets: readingSeries({
          measurement: 'battery_voltage',
          fn: 'mean',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
      timeseries({
        title: 'Signal strength (RSSI)',
        description: 'Mean received signal strength of the uplinks per interval and device.',
        unit: 'dBm',
        stepsLabel: 'dBm',
        base: 'red',
        steps: RSSI_STEPS,
        targets: readingSeries({
          measurement: 'rssi',
          fn: 'mean',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
      barGauge({
        title: 'Readings per device',
        description: 'Readings stored per device in the selected time range (all quantities).',
        unit: 'none',
        width: 24,
        height: 12,
        rows: true,
        min: 0,
        targets: [
          influxql(
            `SELECT count("value") AS "readings" FROM ${QUANTITY_REGEX} WHERE ${F} AND $timeFilter GROUP BY "device"`,
          ).table(),
        ],
      })
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({
          id: 'groupBy',
          options: {
            fields: {
              device: { aggregations: [], operation: 'groupby' },
              readings: { aggregations: ['sum'], operation: 'aggregate' },
            },
          },
        }),
    ],
  });
