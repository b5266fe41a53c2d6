import 'leaflet/dist/leaflet.css';
import L from 'leaflet';
import type { ConsoleSettings } from './api.ts';

/** City centre the map opens on when no device has a position. */
const CENTRE: L.LatLngTuple = [51.96, 7.63];

/**
 * A Leaflet map in `el`; tiles only from the configured URL (the CSP allows that one host), else a blank map on
 * which devices are still drawn. Markers are circles (vectors), so no marker image is fetched.
 */
export function createMap(el: HTMLElement, settings: ConsoleSettings, zoom = 13): L.Map {
  const map = L.map(el, { center: CENTRE, zoom, attributionControl: Boolean(settings.tileUrl) });
  if (settings.tileUrl)
    L.tileLayer(settings.tileUrl, { attribution: settings.tileAttribution, maxZoom: 19 }).addTo(map);
  return map;
}

export const STATUS_COLOURS: Record<string, string> = {
  online: '#1a7f37',
  silent: '#b35900',
  never_seen: '#6e7781',
  decommissioned: '#6e7781',
  alerting: '#cf222e',
};

export { L };
