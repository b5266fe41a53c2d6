import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ConsoleSettings, type SessionInfo, setCsrf } from './api.ts';
import { initialLang, type Lang, lang, setLang, t } from './i18n.ts';
import { AlertsPage } from './pages/alerts.tsx';
import { DeadLettersPage } from './pages/dead-letters.tsx';
import { DevicePage } from './pages/device.tsx';
import { DevicesPage } from './pages/devices.tsx';
import { FieldPage } from './pages/field.tsx';
import { LiveCheckPage } from './pages/live-check.tsx';
import { MapPage } from './pages/map.tsx';
import { SharingPage } from './pages/sharing.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { SilentPage } from './pages/silent.tsx';
import './style.css';

const useHash = (): string => {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
};

function Page({ hash, session, settings }: { hash: string; session: SessionInfo; settings: ConsoleSettings }) {
  const [, route, arg] = /^#\/([a-z-]*)\/?(.*)$/.exec(hash) ?? [];
  const id = arg ? decodeURIComponent(arg) : '';
  switch (route) {
    case 'field':
      return <FieldPage session={session} settings={settings} />;
    case 'check':
      return <LiveCheckPage id={id} session={session} />;
    case 'map':
      return <MapPage settings={settings} />;
    case 'device':
      return <DevicePage id={id} />;
    case 'silent':
      return <SilentPage />;
    case 'dead-letters':
      return <DeadLettersPage session={session} />;
    case 'alerts':
      return <AlertsPage session={session} />;
    case 'sharing':
      return <SharingPage session={session} />;
    case 'devices':
      return <DevicesPage />;
    default:
      return session.scopes.includes('provision') && session.role === 'technician' ? (
        <FieldPage session={session} settings={settings} />
      ) : (
        <DevicesPage />
      );
  }
}

function App() {
  const [language, setLanguage] = useState<Lang>(lang());
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [settings, setSettings] = useState<ConsoleSettings>({ tileUrl: null, tileAttribution: '', oidc: false });
  const hash = useHash();
  useEffect(() => {
    api<ConsoleSettings>('GET', '/v1/console/settings').then(setSettings, () => undefined);
    api<{ session: SessionInfo | null }>('GET', '/v1/session').then(
      (r) => {
        if (r.session) setCsrf(r.session.csrf);
        setSession(r.session);
      },
      () => setSession(null),
    );
  }, []);
  useEffect(() => {
    document.title = t('title');
  }, [language]);
  const switchLang = (l: Lang) => {
    setLang(l);
    setLanguage(l);
  };
  const signOut = async () => {
    await api('DELETE', '/v1/session').catch(() => undefined);
    setSession(null);
    location.hash = '';
  };
  const can = (scope: SessionInfo['scopes'][number]) =>
    session?.scopes.includes(scope) || session?.scopes.includes('admin');
  const nav: Array<[string, string, boolean]> = [
    ['#/field', t('field'), Boolean(can('provision'))],
    ['#/devices', t('devices'), true],
    ['#/map', t('map'), true],
    ['#/silent', t('silent'), true],
    ['#/alerts', t('alerts'), true],
    ['#/dead-letters', t('deadLetters'), true],
    ['#/sharing', t('sharing'), true],
  ];
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        {t('skip')}
      </button>
      <header>
        <strong class="brand">{t('title')}</strong>
        {session && (
          <nav aria-label="main">
            {nav
              .filter(([, , shown]) => shown)
              .map(([href, label]) => (
                <a href={href} aria-current={hash.startsWith(href) ? 'page' : undefined}>
                  {label}
                </a>
              ))}
          </nav>
        )}
        <div class="who">
          <label>
            <span class="sr">{t('language')}</span>
            <select value={language} onChange={(e) => switchLang((e.target as HTMLSelectElement).value as Lang)}>
              <option value="de">Deutsch</option>
              <option value="en">English</option>
            </select>
          </label>
          {session && (
            <>
              <span class="user">
                {session.name}
                {session.department ? ` · ${session.department}` : ''}
              </span>
              <button type="button" onClick={signOut}>
                {t('signOut')}
              </button>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {session === undefined ? null : session === null ? (
          <SignInPage
            settings={settings}
            onSignedIn={(s) => {
              setCsrf(s.csrf);
              setSession(s);
            }}
          />
        ) : (
          <Page hash={hash} session={session} settings={settings} key={hash} />
        )}
      </main>
    </>
  );
}

setLang(initialLang());
render(<App />, document.getElementById('app')!);
