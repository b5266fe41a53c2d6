import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { launchBrowser, openPage, PHONE, screenshot, seriousViolations } from '../helpers/browser.ts';
import { testConfig } from '../helpers/env.ts';
import { freePort } from '../helpers/net.ts';
import { startIdentityProvider, type TestIdentityProvider } from '../helpers/oidc-provider.ts';
import { buildConsole } from './build.ts';

/**
 * A sign-in that fails on the way back from the city's identity provider (a real OpenID provider, started here)
 * answers a page the person can read, in their browser's language, with the way back to sign-in; the log says why.
 */
describe('console: a failed OpenID sign-in answers a readable page in the person’s language', () => {
  let idp: TestIdentityProvider;
  let platform: Platform;
  let browser: Browser;
  let base: string;
  const logged: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    buildConsole();
    idp = await startIdentityProvider({
      tina: { name: 'Tina Technician', sus_role: 'technician', sus_department: 'environment' },
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp.register(`${base}/v1/session/oidc/callback`);
    const log = pino({ level: 'warn' }, { write: (s: string) => void logged.push(JSON.parse(s)) });
    platform = await startPlatform(
      testConfig({
        SUS_HTTP_PORT: String(port),
        SUS_OIDC_ISSUER: idp.issuer,
        SUS_OIDC_CLIENT_ID: idp.clientId,
        SUS_OIDC_CLIENT_SECRET: idp.clientSecret,
        SUS_OIDC_REDIRECT_URL: `${base}/v1/session/oidc/callback`,
      }),
      log,
      { api: true },
    );
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
    await idp?.stop();
  });

  const failures = () => logged.filter((l) => l.msg === 'OpenID Connect sign-in failed');

  it('the person cancels at the provider (error=access_denied): a German page, logged with the provider’s answer', async () => {
    const w = await openPage(browser, PHONE, 'de-DE');
    await w.page.goto(base);
    await w.page.getByRole('link', { name: 'Mit dem Stadtkonto anmelden' }).click();
    await w.page.locator('input[name=login]').waitFor();
    await w.page.getByRole('link', { name: '[ Cancel ]' }).click();
    await w.page.getByRole('heading', { name: 'Anmeldung fehlgeschlagen' }).waitFor();
    expect(new URL(w.page.url()).pathname).toBe('/v1/session/oidc/callback');
    await expect(w.page.locator('main p').first().textContent()).resolves.toBe(
      'Der Identitätsanbieter hat die Anmeldung nicht zugelassen (abgebrochen, oder Ihr Konto darf diesen Dienst nicht nutzen).',
    );
    expect(await w.page.locator('html').getAttribute('lang')).toBe('de');
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await screenshot(w.page, 'sign-in-failed-phone');
    expect(failures().at(-1)).toMatchObject({
      code: 'SUS_ERR_OIDC_SIGN_IN',
      step: 'denied',
      reason: expect.stringContaining('access_denied'),
    });
    await w.page.getByRole('link', { name: 'Zurück zur Anmeldung' }).click();
    await w.page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    expect(w.cspViolations).toStrictEqual([]);
    expect((await w.context.cookies(base)).filter((c) => c.name === 'sus_session')).toStrictEqual([]);
    await w.context.close();
  });

  /**
   * Signs in as tina through the provider; `meanwhile` changes the platform's pending sign-in (the registry row the
   * callback will look for) while the person is at the provider's pages.
   */
  async function signInWhile(locale: string, meanwhile: string) {
    const w = await openPage(browser, PHONE, locale);
    await w.page.goto(base);
    await w.page.getByRole('link', { name: /city account|Stadtkonto/ }).click();
    await w.page.locator('input[name=login]').fill('tina');
    expect(await platform.registry.db.query(`${meanwhile} RETURNING 1`)).toHaveLength(1);
    await w.page.locator('input[name=password]').fill('any password');
    await w.page.getByRole('button', { name: 'Sign-in' }).click();
    await w.page.getByRole('button', { name: 'Continue' }).click();
    return w;
  }

  it('a state that matches no pending sign-in (it expired meanwhile): an English page saying to sign in again', async () => {
    const w = await signInWhile('en-GB', 'DELETE FROM oidc_sign_ins');
    await w.page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
    await expect(w.page.locator('main p').first().textContent()).resolves.toBe(
      'This sign-in has expired or was not started here. Please sign in again.',
    );
    expect(failures().at(-1)).toMatchObject({ step: 'expired', reason: expect.stringContaining('unknown or expired') });
    await expect(w.page.getByRole('link', { name: 'Back to sign-in' }).getAttribute('href')).resolves.toBe('/');
    expect((await w.context.cookies(base)).filter((c) => c.name === 'sus_session')).toStrictEqual([]);
    await w.context.close();
  });

  it('a code exchange the provider refuses (PKCE verifier mismatch): the page says the answer could not be verified', async () => {
    const w = await signInWhile('de-DE', `UPDATE oidc_sign_ins SET verifier = '${'x'.repeat(43)}'`);
    await w.page.getByRole('heading', { name: 'Anmeldung fehlgeschlagen' }).waitFor();
    await expect(w.page.locator('main p').first().textContent()).resolves.toBe(
      'Die Antwort des Identitätsanbieters konnte nicht bestätigt werden. Bitte melden Sie sich erneut an.',
    );
    expect(failures().at(-1)).toMatchObject({ step: 'exchange', reason: expect.stringContaining('refused') });
    expect((await w.context.cookies(base)).filter((c) => c.name === 'sus_session')).toStrictEqual([]);
    await w.context.close();
  });
});
