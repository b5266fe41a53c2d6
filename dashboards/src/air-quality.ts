import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, type Step, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION_FILTER, locationVariables } from './variables.ts';

const MEASUREMENTS = ['pm2_5', 'pm10', 'no2'];
const F = LOCATION_FILTER;

// WHO global air quality guidelines 2021 (24-hour means) and the EU limit values of Directive 2008/50/EC.
export const PM25_STEPS: readonly Step[] = [
  { value: 15, color: 'yellow', label: 'WHO 2021 guideline (24-hour mean)' },
  { value: 25, color: 'red', label: 'EU limit value (annual mean, Directive 2008/50/EC)' },
];
export const PM10_STEPS: readonly Step[] = [
  { value: 45, color: 'yellow', label: 'WHO 2021 guideline (24-hour mean)' },
  { value: 50, color: 'red', label: 'EU limit value (24-hour mean, Directive 2008/50/EC)' },
];
export const NO2_STEPS: readonly Step[] = [
  { value: 25, color: 'yellow', label: 'WHO 2021 guideline (24-hour mean)' },
  { value: 40, color: 'orange', label: 'EU limit value (annual mean, Directive 2008/50/EC)' },
  { value: 200, color: 'red', label: 'EU limit value (1-hour mean, Directive 2008/50/EC)' },
];

const POLLUTANTS = [
  { measurement: 'pm2_5', name: 'PM2.5', steps: PM25_STEPS },
  { measurement: 'pm10', name: 'PM10', steps: PM10_STEPS },
  { measurement: 'no2', name: 'NO₂', steps: NO2_STEPS },
] as const;

export const airQuality = () =>
  buildDashboard({
    uid: 'sus-air-quality',
    title: 'SUS · Air quality',
    description: 'Particulate matter and nitrogen dioxide with the EU limit values and WHO guideline values.',
    tags: ['air-quality', 'environment'],
    variables: [...locationVariables(MEASUREMENTS)],
    panels: [
      ...POLLUTANTS.map((p) =>
        timeseries({
          title: `${p.name} by device`,
          description: `Mean ${p.name} concentration per interval and device (µg/m³).`,
          unit: 'conmgm3',
          stepsLabel: 'µg/m³',
          width: 8,
          steps: p.steps,
          targets: readingSeries({
            measurement: p.measurement,
            fn: 'mean',
            where: F,
            groupBy: ', "device"',
            alias: '$tag_device',
          }),
        }),
      ),
      ...POLLUTANTS.map((p) =>
        barGauge({
          title: `${p.name}: mean over the time range`,
          description: `Mean ${p.name} per device over the selected time range; compare with a 24-hour or annual range.`,
          unit: 'conmgm3',
          stepsLabel: 'µg/m³',
          width: 8,
          min: 0,
          steps: p.steps,
          targets: [
            influxql(`SELECT mean("value") FROM "${p.measurement}" WHERE ${F} AND $timeFilter GROUP BY "device"`).alias(
              '$tag_device',
            ),
          ],
        }),
      ),
    ],
  });
