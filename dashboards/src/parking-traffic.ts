import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { barGauge, stat, timeseries } from './panels.ts';
import { readingSeries } from './sources.ts';
import { LOCATION_FILTER, locationVariables } from './variables.ts';

const MEASUREMENTS = ['parking_occupied', 'vehicle_count'];
const F = LOCATION_FILTER;

/** The last state of every bay: each bay counts once however often it reported. */
const lastBayStates = `SELECT last("value") AS "occupied" FROM "parking_occupied" WHERE ${F} GROUP BY "device"`;

export const parkingTraffic = () =>
  buildDashboard({
    uid: 'sus-parking-traffic',
    title: 'SUS · Parking and traffic',
    description: 'Parking bay occupancy and traffic counts.',
    tags: ['parking', 'traffic'],
    variables: [...locationVariables(MEASUREMENTS)],
    panels: [
      stat({
        title: 'Occupied bays',
        description: 'Bays whose last report was "occupied".',
        unit: 'none',
        width: 6,
        base: 'blue',
        targets: [influxql(`SELECT sum("occupied") FROM (${lastBayStates})`)],
      }),
      stat({
        title: 'Free bays',
        description: 'Bays whose last report was "free".',
        unit: 'none',
        width: 6,
        targets: [influxql(`SELECT count("occupied") - sum("occupied") FROM (${lastBayStates})`)],
      }),
      timeseries({
        title: 'Occupancy by district',
        description: 'Share of occupied bay reports per interval and district.',
        unit: 'percent',
        width: 12,
        height: 12,
        targets: readingSeries({
          measurement: 'parking_occupied',
          fn: 'mean',
          where: F,
          groupBy: ', "district"',
          alias: '$tag_district',
          scale: '* 100',
        }),
      }),
      barGauge({
        title: 'Vehicles per counter',
        description: 'Vehicles counted by each traffic counter in the selected time range.',
        unit: 'none',
        width: 12,
        min: 0,
        targets: [
          influxql(`SELECT sum("value") FROM "vehicle_count" WHERE ${F} AND $timeFilter GROUP BY "device"`).alias(
            '$tag_device',
          ),
        ],
      }),
      timeseries({
        title: 'Vehicles per interval',
        description: 'Vehicles counted per interval and counter.',
        unit: 'none',
        width: 24,
        bars: true,
        targets: readingSeries({
          measurement: 'vehicle_count',
          fn: 'sum',
          where: F,
          groupBy: ', "device"',
          alias: '$tag_device',
        }),
      }),
    ],
  });
