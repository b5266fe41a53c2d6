import { useState } from 'preact/hooks';
import { ApiError, api, type ConsoleSettings, type SessionInfo } from '../api.ts';
import { t } from '../i18n.ts';

/** API-key sign-in (the key goes to the server once and is kept there, never in the browser) or the city's IdP. */
export function SignInPage({
  settings,
  onSignedIn,
}: {
  settings: ConsoleSettings;
  onSignedIn: (s: SessionInfo) => void;
}) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      onSignedIn(await api<SessionInfo>('POST', '/v1/session', { apiKey: key.trim() }));
      setKey('');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <section class="card narrow">
      <h1>{t('signIn')}</h1>
      {settings.oidc && (
        <p>
          <a class="button primary" href="/v1/session/oidc/login">
            {t('signInCity')}
          </a>
        </p>
      )}
      <form onSubmit={submit}>
        <h2>{t('signInKey')}</h2>
        <label>
          {t('apiKey')}
          <input
            type="password"
            name="apiKey"
            autoComplete="off"
            required
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">{t('signIn')}</button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
