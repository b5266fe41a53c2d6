import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, type Step, stat, timeseries } from './panels.ts';
import { LOCATION_FILTER, locationVariables } from './variables.ts';

const MEASUREMENTS = ['noise_laeq'];
const F = LOCATION_FILTER;

// WHO Environmental Noise Guidelines 2018 (road traffic, Lden) and the 65 dB(A) daytime level that German noise
// action planning treats as the threshold of health risk.
export const NOISE_STEPS: readonly Step[] = [
  { value: 53, color: 'yellow', label: 'WHO 2018 guideline for road traffic noise (Lden)' },
  { value: 65, color: 'red', label: 'health-risk threshold of noise action planning (daytime)' },
];

/** Sound levels are logarithmic: the mean of an interval is the energy average 10·log10(mean(10^(L/10))). */
const energyAverage = (groupBy: string) =>
  `SELECT 10 * log10(mean("energy")) FROM (SELECT pow(10, "value" / 10) AS "energy" FROM "noise_laeq" WHERE ${F} AND $timeFilter GROUP BY "device") WHERE $timeFilter GROUP BY ${groupBy}`;

export const noise = () =>
  buildDashboard({
    uid: 'sus-noise',
    title: 'SUS · Noise',
    description: 'A-weighted equivalent sound levels (LAeq) of the noise monitors, energy-averaged.',
    tags: ['noise', 'environment'],
    variables: [...locationVariables(MEASUREMENTS)],
    panels: [
      timeseries({
        title: 'LAeq by device',
        description: 'Energy-averaged LAeq per interval and device.',
        unit: 'dBA',
        stepsLabel: 'dB(A)',
        width: 24,
        steps: NOISE_STEPS,
        targets: [influxql(energyAverage('time($__interval), "device" fill(none)')).alias('$tag_device')],
      }),
      barGauge({
        title: 'Loudest locations',
        description: 'Energy-averaged LAeq per device over the selected time range.',
        unit: 'dBA',
        stepsLabel: 'dB(A)',
        width: 16,
        min: 30,
        max: 90,
        steps: NOISE_STEPS,
        targets: [influxql(energyAverage('"device"')).alias('$tag_device')],
      }),
      stat({
        title: 'Highest LAeq',
        description: 'The highest single LAeq reading in the selected time range.',
        unit: 'dBA',
        stepsLabel: 'dB(A)',
        width: 8,
        height: 8,
        steps: NOISE_STEPS,
        targets: [influxql(`SELECT max("value") FROM "noise_laeq" WHERE ${F} AND $timeFilter`)],
      }),
    ],
  });
