import { demoDevices } from '../../devices/simulator/index.ts';

/** Where Grafana serves the gazetteer (infra/compose mounts dashboards/gazetteer/ there). */
export const GAZETTEER_PATH = 'public/gazetteer/sus-devices.json';
export const GAZETTEER_FILE = 'sus-devices.json';

export interface GazetteerEntry {
  key: string;
  name: string;
  latitude: number;
  longitude: number;
}

/**
 * Device id → position, in the key/latitude/longitude array format of Grafana's own gazetteers. Readings carry
 * no coordinates (they live in the registry), so the map looks devices up by their `device` tag. This one covers
 * the demo city; a city replaces it with an export of its registry.
 */
export function demoGazetteer(count = 48): GazetteerEntry[] {
  return demoDevices(count).map((d) => ({ key: d.id, name: d.name, latitude: d.lat, longitude: d.lon }));
}
