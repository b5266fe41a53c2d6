import { connectAsync } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_TYPES, FleetSimulator, quantitiesOf } from '../../devices/simulator/index.ts';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { apiClient } from '../helpers/api-client.ts';
import { launchBrowser, openPage, PHONE, screenshot, seriousViolations, type WatchedPage } from '../helpers/browser.ts';
import { TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import { freePort } from '../helpers/net.ts';
import { startIdentityProvider, type TestIdentityProvider } from '../helpers/oidc-provider.ts';
import { buildConsole } from './build.ts';

interface Bundle {
  device: string;
  type: string;
  mqtt: { urls: string[]; username: string; password: string; clientId: string };
}

/**
 * A field technician on a phone (390×844) signs in through the city's OpenID provider (a real one, started here),
 * adds a device, gets its provisioning bundle as a QR code, powers the device on (the simulator with that bundle)
 * and watches the live check pass.
 */
describe('console, technician on a phone: OpenID sign-in, add a device, QR bundle, live check', () => {
  let idp: TestIdentityProvider;
  let platform: Platform;
  let browser: Browser;
  let base: string;
  let sim: FleetSimulator | undefined;
  let w: WatchedPage;
  let firstBundle: Bundle;
  /** Whether the broker refuses a login with this bundle's credentials. */
  const connectRefused = async (b: Bundle): Promise<boolean> => {
    try {
      const c = await connectAsync(b.mqtt.urls[0]!, {
        username: b.mqtt.username,
        password: b.mqtt.password,
        clientId: b.mqtt.clientId,
        reconnectPeriod: 0,
      });
      await c.endAsync();
      return false;
    } catch {
      return true;
    }
  };
  beforeAll(async () => {
    buildConsole();
    idp = await startIdentityProvider({
      tina: { name: 'Tina Technician', sus_role: 'technician', sus_department: 'environment' },
      nobody: { name: 'No Role', sus_department: 'environment' },
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp.register(`${base}/v1/session/oidc/callback`);
    platform = await startPlatform(
      testConfig({
        SUS_HTTP_PORT: String(port),
        SUS_OIDC_ISSUER: idp.issuer,
        SUS_OIDC_CLIENT_ID: idp.clientId,
        SUS_OIDC_CLIENT_SECRET: idp.clientSecret,
        SUS_OIDC_REDIRECT_URL: `${base}/v1/session/oidc/callback`,
      }),
      silentLogger,
      { broker: true, api: true },
    );
    const admin = apiClient(base, TEST_ADMIN_KEY);
    expect((await admin('POST', '/v1/departments', { id: 'environment', name: 'Umweltamt' })).status).toBe(201);
    const type = DEVICE_TYPES.air_quality;
    expect(
      (
        await admin('POST', '/v1/device-types', {
          id: type.id,
          name: type.name,
          quantities: quantitiesOf('air_quality'),
          expectedIntervalS: type.expectedIntervalS,
        })
      ).status,
    ).toBe(201);
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await sim?.stop();
    await browser?.close();
    await platform?.stop();
    await idp?.stop();
  });

  /** Through the provider's own login and consent pages, back to the console. */
  async function signIn(page: WatchedPage['page'], login: string): Promise<void> {
    await page.goto(base);
    await page.getByRole('link', { name: 'Sign in with the city account' }).click();
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  it('signs in through the OpenID provider as a technician of the department, landing on the field page', async () => {
    w = await openPage(browser, PHONE);
    await w.page.goto(base);
    await w.page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    await screenshot(w.page, 'sign-in-phone');
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await signIn(w.page, 'tina');
    await w.page.getByRole('heading', { name: 'Find a device' }).waitFor();
    await expect(w.page.locator('header .user').textContent()).resolves.toBe('Tina Technician · environment');
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await screenshot(w.page, 'technician-field');
  });

  it('adds a device (type, district, a tap on the map) and shows its provisioning bundle as a QR code', async () => {
    const { page } = w;
    await page.locator('select[name=type]').selectOption('air_quality');
    await page.locator('input[name=id]').fill('aq-console-01');
    await page.locator('input[name=name]').fill('Marktplatz');
    await page.locator('input[name=district]').fill('altstadt');
    await page.locator('.map.small').click({ position: { x: 120, y: 100 } });
    await expect(page.locator('output[name=location]').textContent()).resolves.toMatch(/^-?\d+\.\d{5}, -?\d+\.\d{5}$/);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('heading', { name: 'Provisioning bundle: aq-console-01' }).waitFor();
    await page.locator('img.qr').waitFor();
    const bundle = JSON.parse((await page.locator('pre.bundle').textContent()) ?? '') as Bundle;
    firstBundle = bundle;
    expect(bundle.device).toBe('aq-console-01');
    expect(bundle.type).toBe('air_quality');
    const device = await apiClient(base, TEST_ADMIN_KEY)<{ department: string; district: string; lat: number }>(
      'GET',
      '/v1/devices/aq-console-01',
    );
    expect(device.body).toMatchObject({ department: 'environment', district: 'altstadt' });
    expect(typeof device.body.lat).toBe('number');
    expect(await seriousViolations(page)).toStrictEqual([]);
    await screenshot(page, 'technician-bundle');

    // The device powers on with that bundle.
    sim = new FleetSimulator({
      mqttUrl: bundle.mqtt.urls[0]!,
      devices: [{ id: bundle.mqtt.username, secret: bundle.mqtt.password, type: bundle.type }],
      intervalMs: 1000,
      jitter: false,
    });
    await page.getByRole('link', { name: 'Live check' }).last().click();
    await page.getByRole('heading', { name: 'Live check: aq-console-01' }).waitFor();
    await sim.start();
    await page.getByText('Live check passed').waitFor({ timeout: 30_000 });
    const verdicts = await page.locator('.checklist .verdict').allTextContents();
    expect(verdicts).toStrictEqual(['pass', 'pass', 'pass']);
    expect(await page.locator('td.bad').count()).toBe(0);
    expect(await page.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await seriousViolations(page)).toStrictEqual([]);
    await screenshot(page, 'technician-live-check');
    expect(w.cspViolations).toStrictEqual([]);
  });

  it('replaces the broken device from the live check (same id, history kept, new credentials as a QR bundle), then decommissions it', async () => {
    const { page } = w;
    const admin = apiClient(base, TEST_ADMIN_KEY);
    const before = await admin<{ readings: unknown[] }>('GET', '/v1/readings?device=aq-console-01&limit=1000');
    expect(before.body.readings.length).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Replace device' }).click();
    await page.getByText("the old unit's credentials stop working at once").waitFor();
    await page.getByRole('button', { name: 'Confirm: Replace device' }).click();
    await page.getByRole('heading', { name: 'Provisioning bundle: aq-console-01' }).waitFor();
    await page.locator('img.qr').waitFor();
    const fresh = JSON.parse((await page.locator('pre.bundle').textContent()) ?? '') as Bundle;
    expect([fresh.device, fresh.type, fresh.mqtt.username]).toStrictEqual([
      'aq-console-01',
      'air_quality',
      'aq-console-01',
    ]);
    expect(fresh.mqtt.password).not.toBe(firstBundle.mqtt.password);
    // The broken unit's credentials stop working: it is cut off and cannot log in again.
    await sim?.stop();
    expect(await connectRefused(firstBundle)).toBe(true);
    expect(await connectRefused(fresh)).toBe(false);
    sim = new FleetSimulator({
      mqttUrl: fresh.mqtt.urls[0]!,
      devices: [{ id: fresh.mqtt.username, secret: fresh.mqtt.password, type: fresh.type }],
      intervalMs: 1000,
      jitter: false,
    });
    await sim.start();
    await page.getByText('Live check passed').waitFor({ timeout: 30_000 });
    expect(await seriousViolations(page)).toStrictEqual([]);
    await screenshot(page, 'technician-replace');
    const after = await admin<{ readings: Array<{ time: string }> }>(
      'GET',
      '/v1/readings?device=aq-console-01&limit=1000',
    );
    expect(after.body.readings.length).toBeGreaterThan(before.body.readings.length);

    await page.getByRole('button', { name: 'Decommission' }).click();
    await page.getByText('its readings stay').waitFor();
    await page.getByRole('button', { name: 'Confirm: Decommission' }).click();
    await page.getByText('Decommissioned. Its history stays on the device page.').waitFor();
    await sim.stop();
    sim = undefined;
    const device = await admin<{ state: string }>('GET', '/v1/devices/aq-console-01/status');
    expect(device.body.state).toBe('decommissioned');
    expect(await connectRefused(fresh)).toBe(true);
    const kept = await admin<{ readings: unknown[] }>('GET', '/v1/readings?device=aq-console-01&limit=1000');
    expect(kept.body.readings.length).toBeGreaterThanOrEqual(after.body.readings.length);
    expect(await seriousViolations(page)).toStrictEqual([]);
    await screenshot(page, 'technician-decommissioned');
    expect(w.cspViolations).toStrictEqual([]);
  });

  it('a person whose claims name no role is refused sign-in (403 SUS_ERR_OIDC_SIGN_IN), no session opened', async () => {
    const other = await openPage(browser, PHONE);
    await signIn(other.page, 'nobody');
    await other.page.getByText('SUS_ERR_OIDC_SIGN_IN').waitFor();
    const cookies = await other.context.cookies(base);
    expect(cookies.filter((c) => c.name === 'sus_session')).toStrictEqual([]);
    await other.context.close();
  });
});
