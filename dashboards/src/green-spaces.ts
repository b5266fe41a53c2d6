import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, type Step, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION_FILTER, locationVariables } from './variables.ts';

const MEASUREMENTS = ['soil_moisture', 'soil_temperature'];
const F = LOCATION_FILTER;

/** Volumetric water content of urban tree substrates: below 15 % trees need water now, below 25 % soon. */
export const SOIL_MOISTURE_STEPS: readonly Step[] = [
  { value: 15, color: 'orange', label: 'below: dry, water now' },
  { value: 25, color: 'green', label: 'below: drying, water soon' },
];

export const greenSpaces = () =>
  buildDashboard({
    uid: 'sus-green-spaces',
    title: 'SUS · Trees and green spaces',
    description: 'Soil moisture and soil temperature at street trees and in parks, to plan watering.',
    tags: ['green-spaces', 'parks'],
    variables: [...locationVariables(MEASUREMENTS)],
    panels: [
      timeseries({
        title: 'Soil moisture by probe',
        description: 'Mean volumetric soil water content per interval and probe.',
        unit: 'percent',
        stepsLabel: '%',
        width: 24,
        base: 'red',
        steps: SOIL_MOISTURE_STEPS,
        targets: readingSeries({
          measurement: 'soil_moisture',
          fn: 'mean',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
      barGauge({
        title: 'Driest locations',
        description: 'The last soil moisture reading of each probe.',
        unit: 'percent',
        stepsLabel: '%',
        width: 12,
        min: 0,
        max: 50,
        base: 'red',
        steps: SOIL_MOISTURE_STEPS,
        targets: [
          influxql(`SELECT last("value") FROM "soil_moisture" WHERE ${F} GROUP BY "device"`).alias('$tag_device'),
        ],
      }),
      timeseries({
        title: 'Soil temperature by probe',
        description: 'Mean soil temperature per interval and probe at the probe depth.',
        unit: 'celsius',
        width: 12,
        targets: readingSeries({
          measurement: 'soil_temperature',
          fn: 'mean',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
    ],
  });
