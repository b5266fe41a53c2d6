import { createHash } from 'node:crypto';

/** Why an OpenID Connect sign-in failed, in the words the person reads (the log keeps the technical reason). */
export type SignInFailure = 'expired' | 'denied' | 'exchange' | 'claims' | 'unavailable';

export type PageLanguage = 'de' | 'en';

const TEXT: Record<PageLanguage, { title: string; back: string } & Record<SignInFailure, string>> = {
  en: {
    title: 'Sign-in failed',
    back: 'Back to sign-in',
    expired: 'This sign-in has expired or was not started here. Please sign in again.',
    denied: 'The identity provider did not let you sign in (you cancelled, or your account may not use this service).',
    exchange: "The identity provider's answer could not be verified. Please sign in again.",
    claims:
      "Your city account has no role or department for the sensor platform. Ask your identity provider's administrator.",
    unavailable: 'Sign-in with the city account is not available right now. Please try again later.',
  },
  de: {
    title: 'Anmeldung fehlgeschlagen',
    back: 'Zurück zur Anmeldung',
    expired: 'Diese Anmeldung ist abgelaufen oder wurde nicht hier begonnen. Bitte melden Sie sich erneut an.',
    denied:
      'Der Identitätsanbieter hat die Anmeldung nicht zugelassen (abgebrochen, oder Ihr Konto darf diesen Dienst nicht nutzen).',
    exchange: 'Die Antwort des Identitätsanbieters konnte nicht bestätigt werden. Bitte melden Sie sich erneut an.',
    claims:
      'Ihr Stadtkonto hat keine Rolle oder Abteilung für die Sensorplattform. Wenden Sie sich an die Verwaltung Ihres Identitätsanbieters.',
    unavailable: 'Die Anmeldung mit dem Stadtkonto ist gerade nicht möglich. Bitte versuchen Sie es später erneut.',
  },
};

/** German when the browser prefers it (the highest-weighted tag of Accept-Language), English otherwise. */
export function pageLanguage(acceptLanguage: string | undefined): PageLanguage {
  let best: { lang: string; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').split(',').slice(0, 20)) {
    const [tag = '', ...params] = part.trim().split(';');
    const q = Number(
      params
        .find((p) => p.trim().startsWith('q='))
        ?.trim()
        .slice(2) ?? '1',
    );
    if (tag && Number.isFinite(q) && (best === undefined || q > best.q)) best = { lang: tag.toLowerCase(), q };
  }
  return best?.lang.startsWith('de') ? 'de' : 'en';
}

const html = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#111;background:#fff}' +
  'a{color:#0b57d0;font-size:1.1rem}small{color:#555}';
/** The page's only style, allowed by its hash: the CSP keeps inline script out as the console's does. */
export const SIGN_IN_FAILURE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

/** A small, self-contained HTML page: what went wrong, in the person's language, and the way back to sign-in. */
export function signInFailurePage(lang: PageLanguage, why: SignInFailure, code: string): string {
  const t = TEXT[lang];
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title} · SUS</title><style>${STYLE}</style></head>
<body><main>
<h1>${t.title}</h1>
<p>${html(t[why])}</p>
<p><a href="/">${t.back}</a></p>
<p><small>${html(code)}</small></p>
</main></body>
</html>
`;
}
