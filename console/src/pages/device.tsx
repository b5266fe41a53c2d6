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

/**
 * History ranges: the last day from raw readings, longer ones as hourly or daily means, which the API answers from
 * its rollups (whole hours and days of mean are served from them), so a year never reads a year of raw readings.
 */
const RANGES = [
  { id: '24h', label: '24 h', s: 24 * 3600, every: null },
  { id: '7d', label: '7 d', s: 7 * 86400, every: '1h' },
  { id: '30d', label: '30 d', s: 30 * 86400, every: '6h' },
  { id: '1y', label: '1 y', s: 365 * 86400, every: '1d' },
] as const;
type RangeId = (typeof RANGES)[number]['id'];
type Source = 'raw' | '1h' | '1d';
type Series = Map<string, Array<[number, number]>>;

interface Aggregate {
  unit: string;
  source: Source;
  series: Array<{ points: Array<{ time: string; value: number }> }>;
}

/** The history of a device over a range: raw readings for a day, rollup-served means beyond; and what answered. */
async function loadHistory(
  id: string,
  range: (typeof RANGES)[number],
  quantities: string[],
): Promise<{ series: Series; sources: Source[] }> {
  const enc = encodeURIComponent(id);
  const to = Date.now();
  const from = new Date(to - range.s * 1000).toISOString();
  const series: Series = new Map();
  if (range.every === null) {
    const r = await api<{ readings: Reading[] }>('GET', `/v1/readings?device=${enc}&from=${from}&limit=5000`);
    for (const x of r.readings) {
      const key = `${x.quantity} (${x.unit})`;
      series.set(key, [...(series.get(key) ?? []), [Date.parse(x.time) / 1000, x.value]]);
    }
    return { series, sources: ['raw'] };
  }
  const sources = new Set<Source>();
  const answers = await Promise.all(
    quantities.map((q) =>
      api<Aggregate>(
        'GET',
        `/v1/readings/aggregate?device=${enc}&quantity=${encodeURIComponent(q)}&from=${from}&to=${new Date(to).toISOString()}&every=${range.every}&fn=mean`,
      ).then((a) => [q, a] as const),
    ),
  );
  for (const [q, a] of answers) {
    sources.add(a.source);
    const points = a.series[0]?.points ?? [];
    if (points.length > 0)
      series.set(
        `${q} (${a.unit})`,
        points.map((p) => [Date.parse(p.time) / 1000, p.value]),
      );
  }
  return { series, sources: [...sources] };
}

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

/** A device: its status, the live chart (stream) and the history of each quantity over a chosen range. */
export function DevicePage({ id }: { id: string }) {
  const [device, setDevice] = useState<Device | null>(null);
  const [status, setStatus] = useState<DeviceStatus | null>(null);
  const [history, setHistory] = useState<{
    series: Series;
    sources: Source[];
    span: [number, number];
    range: RangeId;
  } | null>(null);
  const [range, setRange] = useState<RangeId>('24h');
  const [live, setLive] = useState<Series>(new Map());
  const [error, setError] = useState('');
  useEffect(() => {
    const enc = encodeURIComponent(id);
    api<Device>('GET', `/v1/devices/${enc}`).then(setDevice, (e) =>
      setError(e instanceof ApiError && e.status === 404 ? t('notFound') : String(e.message)),
    );
    api<DeviceStatus>('GET', `/v1/devices/${enc}/status`).then(setStatus, () => undefined);
    return stream({ device: id }, (r) =>
      setLive((m) => {
        const key = `${r.quantity} (${r.unit})`;
        const series = [...(m.get(key) ?? []), [Date.parse(r.time) / 1000, r.value] as [number, number]];
        return new Map(m).set(key, series.slice(-LIVE_POINTS));
      }),
    );
  }, [id]);
  const quantities = status?.values.map((v) => v.quantity).join(',');
  useEffect(() => {
    const chosen = RANGES.find((r) => r.id === range)!;
    // Rollup ranges ask per quantity: wait for the status that names them.
    if (chosen.every !== null && quantities === undefined) return;
    let gone = false;
    const now = Date.now() / 1000;
    loadHistory(id, chosen, quantities ? quantities.split(',') : []).then(
      (h) => !gone && setHistory({ ...h, span: [now - chosen.s, now], range: chosen.id }),
      () => !gone && setHistory({ series: new Map(), sources: [], span: [now - chosen.s, now], range: chosen.id }),
    );
    return () => {
      gone = true;
    };
  }, [id, range, quantities]);
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
      <section class="card live">
        <h2>{t('live')}</h2>
        {live.size === 0 ? <p>{t('waiting')}</p> : [...live].map(([q, p]) => <Chart key={q} title={q} points={p} />)}
      </section>
      <section class="card">
        <h2>{t('history')}</h2>
        <fieldset class="ranges">
          <legend class="sr">{t('range')}</legend>
          {RANGES.map((r) => (
            <button type="button" key={r.id} aria-pressed={r.id === range} onClick={() => setRange(r.id)}>
              {r.label}
            </button>
          ))}
        </fieldset>
        {history === null ? (
          <p>…</p>
        ) : history.series.size === 0 ? (
          <p>{t('none')}</p>
        ) : (
          [...history.series].map(
            (
              [q, p], // A chart takes its span when made: a new range makes new charts.
            ) => <Chart key={`${q} ${history.range}`} title={q} points={p} span={history.span} />,
          )
        )}
        {history && history.sources.length > 0 && (
          <p class="source">
            <small>
              {t('source')}:{' '}
              {history.sources
                .map((s) => t(s === 'raw' ? 'sourceRaw' : s === '1h' ? 'source1h' : 'source1d'))
                .join(', ')}
            </small>
          </p>
        )}
      </section>
    </div>
  );
}
