import { GraphThresholdsStyleMode } from '@grafana/grafana-foundation-sdk/common';
import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, type Step, stat, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION_FILTER, locationVariables } from './variables.ts';

const MEASUREMENTS = ['water_level'];
const F = LOCATION_FILTER;

/**
 * City-wide warning levels above the gauge datum. Real gauges each have their own; a city with differing gauges
 * gives each river its own dashboard copy or changes these values.
 */
export const WATER_LEVEL_STEPS: readonly Step[] = [
  { value: 1.2, color: 'yellow', label: 'warning level 1 (watch)' },
  { value: 1.6, color: 'orange', label: 'warning level 2 (flooding of low-lying areas)' },
  { value: 2.0, color: 'red', label: 'warning level 3 (flood)' },
];

export const waterLevel = () =>
  buildDashboard({
    uid: 'sus-water-level',
    title: 'SUS · Water level',
    description: 'River, canal and storm drain gauges with the warning levels.',
    tags: ['water-level', 'drainage'],
    variables: [...locationVariables(MEASUREMENTS)],
    panels: [
      timeseries({
        title: 'Water level by gauge',
        description: 'Mean water level per interval and gauge, above the gauge datum.',
        unit: 'lengthm',
        stepsLabel: 'm',
        width: 24,
        steps: WATER_LEVEL_STEPS,
        thresholdStyle: GraphThresholdsStyleMode.DashedAndArea,
        targets: readingSeries({
          measurement: 'water_level',
          fn: 'mean',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
      barGauge({
        title: 'Current level by gauge',
        description: 'The last reading of each gauge.',
        unit: 'lengthm',
        stepsLabel: 'm',
        width: 16,
        min: 0,
        max: 2.5,
        steps: WATER_LEVEL_STEPS,
        targets: [
          influxql(`SELECT last("value") FROM "water_level" WHERE ${F} GROUP BY "device"`).alias('$tag_device'),
        ],
      }),
      stat({
        title: 'Highest level',
        description: 'The highest reading of the selected gauges in the time range.',
        unit: 'lengthm',
        stepsLabel: 'm',
        width: 8,
        height: 8,
        steps: WATER_LEVEL_STEPS,
        targets: [influxql(`SELECT max("value") FROM "water_level" WHERE ${F} AND $timeFilter`)],
      }),
    ],
  });
