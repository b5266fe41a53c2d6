import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type ConsoleSettings, type Device } from '../api.ts';
import { t } from '../i18n.ts';
import { stateOf, typeIntervals } from '../status.ts';

/** The department's devices on a map, coloured by status; alerting devices (an active alert) in red. */
export function MapPage({ settings }: { settings: ConsoleSettings }) {
  const el = useRef<HTMLDivElement>(null);
  const [count, setCount] = useState(0);
  useEffect(() => {
    let map: { remove(): void } | undefined;
    let gone = false;
    Promise.all([
      import('../map-view.ts'),
      api<{ devices: Device[] }>('GET', '/v1/devices'),
      typeIntervals(),
      api<{ alerts: Array<{ device: string; state: string }> }>('GET', '/v1/alerts?state=firing').catch(() => ({
        alerts: [],
      })),
    ]).then(([{ createMap, L, STATUS_COLOURS }, { devices }, intervals, { alerts }]) => {
      if (gone || !el.current) return;
      const m = createMap(el.current, settings);
      map = m;
      const alerting = new Set(alerts.map((a) => a.device));
      const placed = devices.filter((d) => d.lat !== null && d.lon !== null);
      setCount(placed.length);
      // Canvas-drawn circles: thousands of markers without a DOM node each.
      const renderer = L.canvas();
      for (const d of placed) {
        const state = alerting.has(d.id) ? 'alerting' : stateOf(d, intervals);
        L.circleMarker([d.lat!, d.lon!], { renderer, radius: 7, color: STATUS_COLOURS[state], fillOpacity: 0.8 })
          .bindTooltip(`${d.id} · ${d.name} · ${state}`)
          .on('click', () => {
            location.hash = `#/device/${encodeURIComponent(d.id)}`;
          })
          .addTo(m);
      }
      if (placed.length > 0)
        m.fitBounds(L.latLngBounds(placed.map((d) => [d.lat!, d.lon!] as [number, number])).pad(0.1));
    });
    return () => {
      gone = true;
      map?.remove();
    };
  }, []);
  return (
    <section class="card">
      <h1>{t('map')}</h1>
      {!settings.tileUrl && <p class="hint">{t('noTiles')}</p>}
      <div class="map large" ref={el} />
      <p class="legend">
        <span class="dot online" /> {t('online')} <span class="dot silent" /> {t('offline')}{' '}
        <span class="dot never_seen" /> {t('never_seen')} <span class="dot alerting" /> {t('alerts')} · {count}{' '}
        {t('devices')}
      </p>
    </section>
  );
}
