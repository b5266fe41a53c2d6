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
}

/** The department's alerts, newest first; a firing one can be acknowledged. */
export function AlertsPage({ session }: { session: SessionInfo }) {
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState('');
  const canWrite = session.scopes.includes('write') || session.scopes.includes('admin');
  const load = () => api<{ alerts: Alert[] }>('GET', '/v1/alerts?limit=200').then((r) => setAlerts(r.alerts));
  useEffect(() => {
    load().catch((e) => setError(String(e.message)));
  }, []);
  const ack = async (id: number) => {
    try {
      await api('POST', `/v1/alerts/${id}/ack`, {});
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
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
              <tr>
                <td>{a.id}</td>
                <td>{a.device}</td>
                <td class={a.state === 'firing' ? 'bad' : ''}>{a.state}</td>
                <td class="num">{a.value ?? '—'}</td>
                <td>{new Date(a.since).toLocaleString()}</td>
                <td>
                  {canWrite && a.ackedAt === null && a.state !== 'resolved' && (
                    <button type="button" onClick={() => ack(a.id)}>
                      {t('acknowledge')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
