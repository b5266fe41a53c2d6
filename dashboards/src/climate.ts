import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { table, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION, LOCATION_FILTER, locationVariables, quantityVariable } from './variables.ts';

const MEASUREMENTS = [
  'air_temperature',
  'relative_humidity',
  'air_pressure',
  'wind_speed',
  'precipitation',
  'illuminance',
];
const F = LOCATION_FILTER;

const series = (measurement: string, fn: 'mean' | 'sum' = 'mean', scale?: string) =>
  readingSeries({ measurement, fn, where: F, groupBy: ', "device"', alias: '$tag_device', scale });

export const climate = () =>
  buildDashboard({
    uid: 'sus-climate',
    title: 'SUS · Climate',
    description: 'Weather stations and the climate sensors of the air quality stations.',
    tags: ['climate', 'environment'],
    variables: [...locationVariables(MEASUREMENTS), quantityVariable(MEASUREMENTS, LOCATION)],
    panels: [
      timeseries({
        title: 'Air temperature',
        description: 'Mean air temperature per interval and device.',
        unit: 'celsius',
        width: 8,
        targets: series('air_temperature'),
      }),
      timeseries({
        title: 'Relative humidity',
        description: 'Mean relative humidity per interval and device.',
        unit: 'humidity',
        width: 8,
        targets: series('relative_humidity'),
      }),
      timeseries({
        title: 'Air pressure',
        description: 'Mean station air pressure per interval and device (stored in Pa, shown in hPa).',
        unit: 'pressurehpa',
        width: 8,
        targets: series('air_pressure', 'mean', '/ 100'),
      }),
      timeseries({
        title: 'Wind speed',
        description: 'Mean wind speed per interval and device.',
        unit: 'velocityms',
        width: 8,
        targets: series('wind_speed'),
      }),
      timeseries({
        title: 'Precipitation',
        description: 'Precipitation summed per interval and device (each reading is the amount since the last one).',
        unit: 'lengthmm',
        width: 8,
        bars: true,
        targets: series('precipitation', 'sum'),
      }),
      timeseries({
        title: 'Illuminance',
        description: 'Mean illuminance per interval and device.',
        unit: 'lux',
        width: 8,
        targets: series('illuminance'),
      }),
      table({
        title: 'Latest $quantity by device',
        description: 'The last reading of the selected quantity for each device, with its district.',
        unit: 'none',
        width: 24,
        targets: [
          influxql(
            `SELECT last("value") AS "value" FROM /^$quantity$/ WHERE ${F} GROUP BY "device", "district"`,
          ).table(),
        ],
      }),
    ],
  });
