import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type Device } from '../api.ts';
import { t } from '../i18n.ts';
import { type DeviceState, stateOf, typeIntervals } from '../status.ts';

const ROW_PX = 40;
const VIEW_ROWS = 15;
const OVERSCAN = 10;

const stateText = (s: DeviceState) => t(s === 'silent' ? 'offline' : s);

/** The department's devices with filters; only the rows in view are rendered, so 10,000 devices stay smooth. */
export function DevicesPage() {
  const [devices, setDevices] = useState<Device[]>([]);
  const [intervals, setIntervals] = useState<Map<string, number>>(new Map());
  const [text, setText] = useState('');
  const [type, setType] = useState('');
  const [district, setDistrict] = useState('');
  const [state, setState] = useState('');
  const [top, setTop] = useState(0);
  useEffect(() => {
    api<{ devices: Device[] }>('GET', '/v1/devices').then((r) => setDevices(r.devices));
    typeIntervals().then(setIntervals);
  }, []);
  const rows = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return devices
      .map((d) => ({ d, s: stateOf(d, intervals) }))
      .filter(
        ({ d, s }) =>
          (needle === '' || d.id.toLowerCase().includes(needle) || d.name.toLowerCase().includes(needle)) &&
          (type === '' || d.type === type) &&
          (district === '' || d.district === district) &&
          (state === '' || s === state),
      );
  }, [devices, intervals, text, type, district, state]);
  const types = useMemo(() => [...new Set(devices.map((d) => d.type))].sort(), [devices]);
  const districts = useMemo(
    () => [...new Set(devices.map((d) => d.district).filter((x): x is string => x !== null))].sort(),
    [devices],
  );
  const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
  const visible = rows.slice(first, first + VIEW_ROWS + 2 * OVERSCAN);
  return (
    <section class="card">
      <h1>{t('devices')}</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('filter')}
          <input type="search" name="q" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('type')}
          <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            <option value="">{t('all')}</option>
            {types.map((x) => (
              <option value={x}>{x}</option>
            ))}
          </select>
        </label>
        <label>
          {t('district')}
          <select value={district} onChange={(e) => setDistrict((e.target as HTMLSelectElement).value)}>
            <option value="">{t('all')}</option>
            {districts.map((x) => (
              <option value={x}>{x}</option>
            ))}
          </select>
        </label>
        <label>
          {t('status')}
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="">{t('all')}</option>
            {(['online', 'silent', 'never_seen'] as const).map((x) => (
              <option value={x}>{stateText(x)}</option>
            ))}
          </select>
        </label>
      </form>
      <p aria-live="polite">
        {rows.length} / {devices.length} {t('shown')}
      </p>
      <div class="table-head" role="presentation">
        <span>{t('deviceId')}</span>
        <span>{t('name')}</span>
        <span>{t('type')}</span>
        <span>{t('district')}</span>
        <span>{t('status')}</span>
      </div>
      <ul
        class="virtual"
        aria-label={t('devices')}
        style={{ height: `${Math.min(rows.length, VIEW_ROWS) * ROW_PX}px` }}
        onScroll={(e) => setTop((e.target as HTMLElement).scrollTop)}
      >
        <li class="spacer" style={{ height: `${rows.length * ROW_PX}px` }} aria-hidden="true" />
        {visible.map(({ d, s }, i) => (
          <li class="vrow" style={{ top: `${(first + i) * ROW_PX}px` }} key={d.id} data-device={d.id}>
            <a href={`#/device/${encodeURIComponent(d.id)}`}>{d.id}</a>
            <span>{d.name}</span>
            <span>{d.type}</span>
            <span>{d.district ?? '—'}</span>
            <span class={`state ${s}`}>{stateText(s)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
