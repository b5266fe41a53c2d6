import {
  FrameGeometrySourceBuilder,
  FrameGeometrySourceMode,
  MapLayerOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { FieldColorBuilder, FieldColorModeId } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as GeomapBuilder, MapViewConfigBuilder } from '@grafana/grafana-foundation-sdk/geomap';
import { DISTRICTS } from '../../devices/simulator/index.ts';
import { buildDashboard, QUANTITIES } from './dashboard.ts';
import { DATASOURCE, influxql } from './datasource.ts';
import { devicesPerDepartment, offlineCount, onlineCount, statusByDevice } from './fleet.ts';
import { ONLINE_MAPPING } from './fleet-health.ts';
import { GAZETTEER_PATH } from './gazetteer.ts';
import { barGauge, stat, table, thresholds } from './panels.ts';
import { quantityVariable, type TagVariable, tagFilter, tagVariable } from './variables.ts';

const VARS: readonly TagVariable[] = ['department', 'district'];
const F = tagFilter(VARS);

const latestValue = `SELECT last("value") AS "latest" FROM /^$quantity$/ WHERE ${F} GROUP BY "device"`;

/** The map centre: the middle of the districts of the demo city. */
const mean = (xs: number[]) => Math.round((xs.reduce((s, x) => s + x, 0) / xs.length) * 1e4) / 1e4;
const centre = { lat: mean(DISTRICTS.map((d) => d.lat)), lon: mean(DISTRICTS.map((d) => d.lon)) };

const byDevice = () =>
  new FrameGeometrySourceBuilder().mode(FrameGeometrySourceMode.Lookup).lookup('device').gazetteer(GAZETTEER_PATH);

const markers = (name: string, refId: string, field: string, size: { min: number; max: number } | number) =>
  new MapLayerOptionsBuilder()
    .type('markers')
    .name(name)
    .location(byDevice())
    .filterData({ id: 'byRefId', options: refId })
    .tooltip(true)
    .config({
      showLegend: true,
      style: {
        color: { field, fixed: 'dark-green' },
        opacity: 0.8,
        size: typeof size === 'number' ? { fixed: size } : { field, fixed: 8, min: size.min, max: size.max },
        symbol: { fixed: 'img/icons/marker/circle.svg', mode: 'fixed' },
      },
    });

export const cityOverview = () =>
  buildDashboard({
    uid: 'sus-city-overview',
    title: 'SUS · City overview',
    description: 'All devices of the city on a map, coloured by status and by the latest value of a quantity.',
    tags: ['overview'],
    variables: [
      tagVariable('department', ['device_status']),
      tagVariable('district', ['device_status'], ['department']),
      quantityVariable(QUANTITIES, VARS),
    ],
    panels: [
      stat({
        title: 'Devices online',
        description: 'Devices whose last presence event was "online".',
        unit: 'none',
        targets: [onlineCount(VARS)],
      }),
      stat({
        title: 'Devices offline',
        description: 'Devices whose last presence event was "offline".',
        unit: 'none',
        steps: [{ value: 1, color: 'red', label: 'at least one device offline' }],
        targets: [offlineCount(VARS)],
      }),
      barGauge({
        title: 'Devices per department',
        description: 'Devices that ever reported presence, per department.',
        unit: 'none',
        width: 12,
        height: 4,
        min: 0,
        base: 'blue',
        targets: [devicesPerDepartment(VARS)],
      }),
      new GeomapBuilder()
        .title('Device map')
        .description(
          'Each device at its registered position (looked up by device id in the gazetteer ' +
            `${GAZETTEER_PATH}): the "Status" layer is green when online and red when offline, the "Latest $quantity" ` +
            'layer is sized and coloured by the last value.',
        )
        .datasource(DATASOURCE)
        .span(24)
        .height(14)
        .view(new MapViewConfigBuilder().id('coords').lat(centre.lat).lon(centre.lon).zoom(13))
        .basemap(new MapLayerOptionsBuilder().type('default').name('Basemap'))
        .layers([markers('Status', 'A', 'online', 7), markers('Latest $quantity', 'B', 'latest', { min: 4, max: 16 })])
        .targets([statusByDevice(VARS), influxql(latestValue, 'B').table()])
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.ContinuousGrYlRd))
        .overrideByName('online', [
          { id: 'color', value: { mode: FieldColorModeId.Thresholds } },
          { id: 'thresholds', value: thresholds('red', [{ value: 1, color: 'green', label: 'online' }]).build() },
          { id: 'mappings', value: ONLINE_MAPPING },
        ]),
      table({
        title: 'Latest $quantity by device',
        description: 'The last reading of the selected quantity per device, with district and department.',
        unit: 'none',
        width: 24,
        targets: [
          influxql(
            `SELECT last("value") AS "latest" FROM /^$quantity$/ WHERE ${F} GROUP BY "device", "district", "department"`,
          ).table(),
        ],
      }),
    ],
  });
