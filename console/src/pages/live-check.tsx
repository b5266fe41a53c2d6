import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type DeviceStatus, type LiveReading, type Quantity, type SessionInfo, stream } from '../api.ts';
import { type Bundle, BundleCard } from '../bundle.tsx';
import { type TextKey, t } from '../i18n.ts';

type Verdict = 'pass' | 'fail' | 'pending';

/**
 * On site: waits for the device's first reading on the live stream, then shows each quantity (value, unit,
 * plausibility against the catalogue's range), battery and signal, and the pass/fail checklist.
 */
export function LiveCheckPage({ id, session }: { id: string; session: SessionInfo }) {
  const [status, setStatus] = useState<DeviceStatus | null>(null);
  const [missing, setMissing] = useState(false);
  const [ranges, setRanges] = useState<Map<string, [number, number]>>(new Map());
  const [latest, setLatest] = useState<Map<string, LiveReading>>(new Map());
  const [messages, setMessages] = useState<number[]>([]);
  const [replacement, setReplacement] = useState<Bundle | null>(null);
  useEffect(() => {
    let gone = false;
    const poll = () =>
      api<DeviceStatus>('GET', `/v1/devices/${encodeURIComponent(id)}/status`).then(
        (s) => !gone && setStatus(s),
        (err) => !gone && err instanceof ApiError && err.status === 404 && setMissing(true),
      );
    poll();
    const timer = setInterval(poll, 5000);
    api<{ quantities: Quantity[] }>('GET', '/v1/quantities').then((r) =>
      setRanges(new Map(r.quantities.map((q) => [q.name, q.range]))),
    );
    const close = stream({ device: id }, (r) => {
      setLatest((m) => new Map(m).set(r.quantity, r));
      const at = Date.parse(r.time);
      // One message = the readings that share a timestamp.
      setMessages((ms) => (ms.includes(at) ? ms : [...ms, at].slice(-20)));
    });
    return () => {
      gone = true;
      clearInterval(timer);
      close();
    };
  }, [id]);
  if (missing) return <p class="error">{t('notFound')}</p>;
  const replaced = (b: Bundle) => {
    setReplacement(b);
    // The new unit's check starts afresh: what the old one sent says nothing about it.
    setLatest(new Map());
    setMessages([]);
  };
  const plausible = (r: LiveReading) => {
    const range = ranges.get(r.quantity);
    return range === undefined || (r.value >= range[0] && r.value <= range[1]);
  };
  const values = [...latest.values()].sort((a, b) => a.quantity.localeCompare(b.quantity));
  const expectedMs = (status?.expectedIntervalS ?? 300) * 1000;
  const gaps = messages.slice(1).map((m, i) => m - messages[i]!);
  const checks: Array<[TextKey, Verdict]> = [
    ['checkConnected', values.length > 0 ? 'pass' : 'pending'],
    [
      'checkInterval',
      gaps.length === 0 ? 'pending' : gaps.every((g) => g > 0 && g <= expectedMs * 1.5) ? 'pass' : 'fail',
    ],
    ['checkPlausible', values.length === 0 ? 'pending' : values.every(plausible) ? 'pass' : 'fail'],
  ];
  const passed = checks.every(([, v]) => v === 'pass') && status?.state !== 'decommissioned';
  // A reading on the stream is newer news than the last status poll.
  const state = values.length > 0 && status?.state !== 'decommissioned' ? 'online' : status?.state;
  const battery = latest.get('battery_voltage')?.value ?? status?.battery;
  const signal = latest.get('rssi')?.value ?? status?.signal;
  return (
    <div class="stack">
      <section class="card">
        <h1>
          {t('liveCheck')}: {id}
        </h1>
        <p>
          {t('status')}: <strong>{state ? t(state === 'silent' ? 'offline' : state) : '…'}</strong>
          {battery != null && ` · ${t('battery')} ${battery.toFixed(2)} V`}
          {signal != null && ` · ${t('signal')} ${signal} dBm`}
        </p>
        <ul class="checklist" aria-label={t('liveCheck')}>
          {checks.map(([label, verdict]) => (
            <li class={verdict} key={label}>
              <span class="verdict">{t(verdict)}</span> {t(label)}
            </li>
          ))}
        </ul>
        <p class={passed ? 'passed' : 'waiting'} role="status">
          {passed ? t('passed') : values.length === 0 ? t('waiting') : ''}
        </p>
      </section>
      {values.length > 0 && (
        <section class="card">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('quantity')}</th>
                <th scope="col">{t('value')}</th>
                <th scope="col">{t('plausible')}</th>
              </tr>
            </thead>
            <tbody>
              {values.map((r) => (
                <tr>
                  <td>{r.quantity}</td>
                  <td class="num">
                    {Number(r.value.toFixed(3))} {r.unit}
                  </td>
                  <td class={plausible(r) ? 'ok' : 'bad'}>{plausible(r) ? t('yes') : t('no')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {replacement && (
        <>
          <p class="passed" role="status">
            {t('replaced')}
          </p>
          <BundleCard bundle={replacement} checkLink={false} />
        </>
      )}
      {session.scopes.some((s) => s === 'provision' || s === 'admin') && status && (
        <ReplaceOrDecommission
          id={id}
          decommissioned={status.state === 'decommissioned'}
          onReplaced={replaced}
          onDecommissioned={() => {
            setStatus({ ...status, state: 'decommissioned' });
            setReplacement(null);
          }}
        />
      )}
    </div>
  );
}

/**
 * A broken unit is replaced (same id, history kept, new credentials as a bundle) or the device decommissioned (its
 * readings stay); each asks once more before it acts, as neither can be undone from here.
 */
function ReplaceOrDecommission(p: {
  id: string;
  decommissioned: boolean;
  onReplaced: (b: Bundle) => void;
  onDecommissioned: () => void;
}) {
  const [asking, setAsking] = useState<'replace' | 'decommission' | null>(null);
  const [error, setError] = useState('');
  const path = `/v1/devices/${encodeURIComponent(p.id)}`;
  const act = async () => {
    setError('');
    try {
      if (asking === 'replace') p.onReplaced(await api<Bundle>('POST', `${path}/bundle`));
      else {
        await api('DELETE', path);
        p.onDecommissioned();
      }
      setAsking(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  if (p.decommissioned)
    return (
      <section class="card">
        <p role="status">{t('decommissionedDone')}</p>
      </section>
    );
  return (
    <section class="card" aria-labelledby="broken-title">
      <h2 id="broken-title">{t('brokenDevice')}</h2>
      {asking === null ? (
        <div class="row">
          <button type="button" onClick={() => setAsking('replace')}>
            {t('replace')}
          </button>
          <button type="button" class="danger" onClick={() => setAsking('decommission')}>
            {t('decommission')}
          </button>
        </div>
      ) : (
        <>
          <p>{t(asking === 'replace' ? 'replaceHint' : 'decommissionHint')}</p>
          <div class="row">
            <button type="button" class={asking === 'replace' ? 'primary' : 'danger'} onClick={act}>
              {t('confirm')}: {t(asking)}
            </button>
            <button type="button" onClick={() => setAsking(null)}>
              {t('cancel')}
            </button>
          </div>
        </>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
