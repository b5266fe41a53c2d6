import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type DeadLetter, type SessionInfo } from '../api.ts';
import { t } from '../i18n.ts';

/** Messages the platform could not use, with their reasons; replay (after a fix) or discard. */
export function DeadLettersPage({ session }: { session: SessionInfo }) {
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [done, setDone] = useState<Map<number, string>>(new Map());
  const [error, setError] = useState('');
  const canWrite = session.scopes.includes('write') || session.scopes.includes('admin');
  const load = () =>
    api<{ deadLetters: DeadLetter[] }>('GET', '/v1/dead-letters?limit=100').then((r) => setLetters(r.deadLetters));
  useEffect(() => {
    load();
  }, []);
  const act = async (id: number, action: 'replay' | 'discard') => {
    setError('');
    try {
      const r = await api<{ status?: string }>('POST', `/v1/dead-letters/${id}/${action}`);
      setDone((m) => new Map(m).set(id, action === 'discard' ? t('discarded') : `${t('replayed')}: ${r.status ?? ''}`));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <section class="card">
      <h1>{t('deadLetters')}</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {letters?.length === 0 && <p>{t('none')}</p>}
      <ul class="letters">
        {letters?.map((d) => (
          <li data-dead-letter={d.id}>
            <p>
              <strong>#{d.id}</strong> · {new Date(d.receivedAt).toLocaleString()} · {d.source} · {d.device ?? '—'}
            </p>
            <ul class="reasons" aria-label={t('reasons')}>
              {d.reasons.map((r) => (
                <li>
                  <code>{r.code}</code>
                  {r.field ? ` (${r.field})` : ''}: {r.message}
                </li>
              ))}
            </ul>
            <pre class="payload">{d.payload.length > 300 ? `${d.payload.slice(0, 300)}…` : d.payload}</pre>
            {done.has(d.id) ? (
              <p role="status" class="passed">
                {done.get(d.id)}
              </p>
            ) : (
              canWrite && (
                <div class="row">
                  <button type="button" onClick={() => act(d.id, 'replay')}>
                    {t('replay')} #{d.id}
                  </button>
                  <button type="button" onClick={() => act(d.id, 'discard')}>
                    {t('discard')} #{d.id}
                  </button>
                </div>
              )
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
