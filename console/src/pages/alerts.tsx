import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type SessionInfo } from '../api.ts';
import { t } from '../i18n.ts';

interface Alert {
  id: number;
  rule: string;
  device: string;
  state: string;
  value: number | null;
  since: string;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
}

interface HistoryEntry {
  at: string;
  state: string;
  value: number | null;
  note: string | null;
}

/** The department's alerts, newest first; a firing one can be acknowledged with a note; each has its history. */
export function AlertsPage({ session }: { session: SessionInfo }) {
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState('');
  const [acking, setAcking] = useState<number | null>(null);
  const [note, setNote] = useState('');
  const [history, setHistory] = useState<{ id: number; entries: HistoryEntry[] } | null>(null);
  const canWrite = session.scopes.includes('write') || session.scopes.includes('admin');
  const load = () => api<{ alerts: Alert[] }>('GET', '/v1/alerts?limit=200').then((r) => setAlerts(r.alerts));
  useEffect(() => {
    load().catch((e) => setError(String(e.message)));
  }, []);
  const fail = (err: unknown) => setError(err instanceof ApiError ? err.message : String(err));
  const showHistory = async (id: number) => {
    try {
      const r = await api<{ history: HistoryEntry[] }>('GET', `/v1/alerts/${id}/history`);
      setHistory({ id, entries: r.history });
    } catch (err) {
      fail(err);
    }
  };
  const ack = async (e: Event) => {
    e.preventDefault();
    if (acking === null) return;
    try {
      await api('POST', `/v1/alerts/${acking}/ack`, { note });
      const id = acking;
      setAcking(null);
      setNote('');
      await load();
      await showHistory(id);
    } catch (err) {
      fail(err);
    }
  };
  return (
    <div class="stack">
      <section class="card">
        <h1>{t('alerts')}</h1>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {alerts?.length === 0 && <p>{t('none')}</p>}
        {alerts && alerts.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{t('deviceId')}</th>
                <th scope="col">{t('state')}</th>
                <th scope="col">{t('value')}</th>
                <th scope="col">{t('received')}</th>
                <th scope="col">
                  <span class="sr">{t('acknowledge')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <tr key={a.id} data-alert={a.id}>
                  <td>{a.id}</td>
                  <td>{a.device}</td>
                  <td class={a.state === 'firing' && a.ackedAt === null ? 'bad' : ''}>
                    {a.state}
                    {a.ackedAt !== null && ` · ${t('acknowledged')}`}
                  </td>
                  <td class="num">{a.value ?? '—'}</td>
                  <td>{new Date(a.since).toLocaleString()}</td>
                  <td class="row">
                    {canWrite && a.ackedAt === null && a.state !== 'resolved' && (
                      <button type="button" aria-label={`${t('acknowledge')} #${a.id}`} onClick={() => setAcking(a.id)}>
                        {t('acknowledge')}
                      </button>
                    )}
                    <button type="button" aria-label={`${t('showHistory')} #${a.id}`} onClick={() => showHistory(a.id)}>
                      {t('showHistory')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {acking !== null && (
        <form class="card" onSubmit={ack} aria-labelledby="ack-title">
          <h2 id="ack-title">
            {t('acknowledge')} #{acking}
          </h2>
          <label>
            {t('note')}
            <textarea name="note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <div class="row">
            <button type="submit" class="primary">
              {t('acknowledge')}
            </button>
            <button type="button" onClick={() => setAcking(null)}>
              {t('cancel')}
            </button>
          </div>
        </form>
      )}
      {history && (
        <section class="card" aria-labelledby="history-title">
          <h2 id="history-title">
            {t('alertHistory')} #{history.id}
          </h2>
          <table class="alert-history">
            <thead>
              <tr>
                <th scope="col">{t('time')}</th>
                <th scope="col">{t('state')}</th>
                <th scope="col">{t('value')}</th>
                <th scope="col">{t('note')}</th>
              </tr>
            </thead>
            <tbody>
              {history.entries.map((h) => (
                <tr key={`${h.at} ${h.state}`}>
                  <td>{new Date(h.at).toLocaleString()}</td>
                  <td>{h.state}</td>
                  <td class="num">{h.value ?? '—'}</td>
                  <td>{h.note ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
