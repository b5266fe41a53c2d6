import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { ApiError, api, type Device, type DeviceStatus, stream } from '../api.ts';
import { t } from '../i18n.ts';

interface Reading {
  quantity: string;
  value: number;
  unit: string;
  time: string;
}

const LIVE_POINTS = 600;

/** One chart of one quantity; the live series appends points as the stream brings them. */
function Chart({ title, points, span }: { title: string; points: Array<[number, number]>; span?: [number, number] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    let gone = false;
    import('uplot').then(({ default: UPlot }) => {
      if (gone || !el.current) return;
      plot.current = new UPlot(
        {
          width: Math.min(el.current.clientWidth || 600, 900),
          height: 220,
          title,
          series: [{}, { label: title, stroke: '#0b5cad', width: 2, points: { show: true, size: 5 } }],
          // History spans its whole window (a single point would otherwise be stretched over years).
          scales: span ? { x: { time: true, range: () => span } } : { x: { time: true } },
          axes: [{}, { size: 60 }],
        },
        [points.map((p) => p[0]), points.map((p) => p[1])],
        el.current,
      );
    });
    return () => {
      gone = true;
      plot.current?.destroy();
    };
  }, [title]);
  useEffect(() => {
    plot.current?.setData([points.map((p) => p[0]), points.map((p) => p[1])]);
  }, [points]);
  return <div class="chart" ref={el} />;
}

/** A device: its status, the live chart (stream) and the last day's history of each quantity. */
export function DevicePage({ id }: { id: string }) {
  const [device, setDevice] = useState<Device | null>(null);
  const [status, setStatus] = useState<DeviceStatus | null>(null);
  const [history, setHistory] = useState<Map<string, Array<[number, number]>>>(new Map());
  const [live, setLive] = useState<Map<string, Array<[number, number]>>>(new Map());
  const [error, setError] = useState('');
  const [historySpan] = useState<[number, number]>(() => [Date.now() / 1000 - 24 * 3600, Date.now() / 1000]);
  useEffect(() => {
    const enc = encodeURIComponent(id);
    api<Device>('GET', `/v1/devices/${enc}`).then(setDevice, (e) =>
      setError(e instanceof ApiError && e.status === 404 ? t('notFound') : String(e.message)),
    );
    api<DeviceStatus>('GET', `/v1/devices/${enc}/status`).then(setStatus, () => undefined);
    const from = new Date(historySpan[0] * 1000).toISOString();
    api<{ readings: Reading[] }>('GET', `/v1/readings?device=${enc}&from=${from}&limit=5000`).then(
      (r) => {
        const by = new Map<string, Array<[number, number]>>();
        for (const x of r.readings) {
          const series = by.get(`${x.quantity} (${x.unit})`) ?? [];
          series.push([Date.parse(x.time) / 1000, x.value]);
          by.set(`${x.quantity} (${x.unit})`, series);
        }
        setHistory(by);
      },
      () => undefined,
    );
    return stream({ device: id }, (r) =>
      setLive((m) => {
        const key = `${r.quantity} (${r.unit})`;
        const series = [...(m.get(key) ?? []), [Date.parse(r.time) / 1000, r.value] as [number, number]];
        return new Map(m).set(key, series.slice(-LIVE_POINTS));
      }),
    );
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  return (
    <div class="stack">
      <section class="card">
        <h1>
          {device?.name ?? id} <small>{id}</small>
        </h1>
        {device && (
          <p>
            {device.type} · {device.department} · {device.district ?? '—'} · {t('status')}:{' '}
            {status ? t(status.state === 'silent' ? 'offline' : status.state) : '…'} · {t('lastSeen')}:{' '}
            {device.lastSeenAt ? new Date(device.lastSeenAt).toLocaleString() : t('never')}
          </p>
        )}
      </section>
      <section class="card">
        <h2>{t('live')}</h2>
        {live.size === 0 ? <p>{t('waiting')}</p> : [...live].map(([q, p]) => <Chart key={q} title={q} points={p} />)}
      </section>
      <section class="card">
        <h2>{t('history')}</h2>
        {history.size === 0 ? (
          <p>{t('none')}</p>
        ) : (
          [...history].map(([q, p]) => <Chart key={q} title={q} points={p} span={historySpan} />)
        )}
      </section>
    </div>
  );
}
