import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { airQuality } from './air-quality.ts';
import { airQualityReport } from './air-quality-report.ts';
import { alerts } from './alerts.ts';
import { cityOverview } from './city-overview.ts';
import { climate } from './climate.ts';
import { fleetHealth } from './fleet-health.ts';
import { greenSpaces } from './green-spaces.ts';
import { noise } from './noise.ts';
import { parkingTraffic } from './parking-traffic.ts';
import { pipeline } from './pipeline.ts';
import { waterLevel } from './water-level.ts';

export { DATASOURCE, DATASOURCE_UID, type InfluxQLTarget } from './datasource.ts';

/** Every dashboard, in README order, by file name in dashboards/generated. */
export const DASHBOARDS: ReadonlyArray<{ file: string; build: () => Dashboard }> = [
  { file: 'city-overview', build: cityOverview },
  { file: 'fleet-health', build: fleetHealth },
  { file: 'air-quality', build: airQuality },
  { file: 'air-quality-report', build: airQualityReport },
  { file: 'climate', build: climate },
  { file: 'noise', build: noise },
  { file: 'water-level', build: waterLevel },
  { file: 'green-spaces', build: greenSpaces },
  { file: 'parking-traffic', build: parkingTraffic },
  { file: 'alerts', build: alerts },
  { file: 'pipeline', build: pipeline },
];
