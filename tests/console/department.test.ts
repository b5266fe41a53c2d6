import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { apiClient } from '../helpers/api-client.ts';
import { DESK, launchBrowser, openPage, screenshot, seriousViolations, type WatchedPage } from '../helpers/browser.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import { buildConsole } from './build.ts';

const OWN = ['env-marktplatz', 'env-hafen', 'env-park'];
const FOREIGN = ['tr-secret-01', 'tr-secret-02'];

/**
 * Department staff at a desk: a viewer of one department walks every page and never sees another department's
 * devices, neither on screen nor in any answer the browser receives; a department admin replays a dead letter.
 */
describe('console, department at a desk: isolation between departments, dead-letter replay', () => {
  let platform: Platform;
  let browser: Browser;
  let base: string;
  let admin: ReturnType<typeof apiClient>;
  const keyOf = async (name: string, scopes: string[]) =>
    (await admin<{ key: string }>('POST', '/v1/keys', { name, department: 'environment', scopes })).body.key;

  beforeAll(async () => {
    buildConsole();
    platform = await startPlatform(testConfig(), silentLogger, { broker: true, api: true });
    base = `http://127.0.0.1:${platform.httpPort}`;
    admin = apiClient(base, TEST_ADMIN_KEY);
    for (const id of ['environment', 'traffic']) await admin('POST', '/v1/departments', { id, name: id });
    const place = (i: number) => ({ lat: 51.95 + i * 0.01, lon: 7.6 + i * 0.01 });
    for (const [i, id] of OWN.entries())
      await admin('POST', '/v1/devices', {
        id,
        name: `Station ${i}`,
        department: 'environment',
        type: 'air_quality',
        district: 'altstadt',
        ...place(i),
      });
    for (const [i, id] of FOREIGN.entries())
      await admin('POST', '/v1/devices', {
        id,
        name: `Traffic ${i}`,
        department: 'traffic',
        type: 'traffic_counter',
        district: 'altstadt',
        ...place(i + 3),
      });
    // Readings of both departments through the real pipeline, so stream, history and latest values have data.
    for (const device of [...OWN, ...FOREIGN])
      await fetch(`${base}/v1/ingest/canonical?device=${device}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ values: { air_temperature: 21.5 } }),
      });
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
  });

  async function signInWithKey(w: WatchedPage, key: string): Promise<void> {
    await w.page.goto(base);
    await w.page.getByLabel('API key').fill(key);
    await w.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await w.page.locator('header .user').waitFor();
  }

  it('a viewer of one department sees its devices on every page and nothing of another department', async () => {
    const w = await openPage(browser, DESK);
    await signInWithKey(w, await keyOf('Vera Viewer', ['read']));
    // Each page is checked once its answers are shown (the live stream keeps a request open: no network idle).
    const empty = () => w.page.getByText('Nothing here.').first().waitFor();
    const pages: Array<[string, string, () => Promise<unknown>]> = [
      ['devices', 'Devices', () => w.page.locator('[data-device=env-park]').waitFor()],
      ['map', 'Map', () => w.page.getByText('· 3 Devices').waitFor()],
      ['device/env-marktplatz', 'Station 0', () => w.page.getByText('air_temperature (Cel)').first().waitFor()],
      ['silent', 'Silent devices', empty],
      ['alerts', 'Alerts', empty],
      ['dead-letters', 'Dead letters', empty],
      ['sharing', 'Grants', empty],
    ];
    for (const [route, heading, ready] of pages) {
      await w.page.goto(`${base}/#/${route}`);
      await w.page.getByRole('heading', { name: heading }).first().waitFor();
      await ready();
      const text = (await w.page.locator('main').textContent()) ?? '';
      for (const id of FOREIGN) expect([route, text.includes(id)]).toStrictEqual([route, false]);
      expect([route, await seriousViolations(w.page)]).toStrictEqual([route, []]);
      await screenshot(w.page, `viewer-${route.replace('/', '-')}`);
    }
    expect(await w.page.locator('[data-device]').count()).toBe(0); // the list is gone with its page
    await w.page.goto(`${base}/#/devices`);
    await w.page.locator('[data-device=env-park]').waitFor();
    expect(
      await w.page.locator('[data-device]').evaluateAll((els) => els.map((e) => e.getAttribute('data-device'))),
    ).toStrictEqual([...OWN].sort());
    // Not one answer the browser got names a device of the other department.
    const leaks = w.apiBodies.filter((r) => FOREIGN.some((id) => r.body.includes(id))).map((r) => r.url);
    expect(leaks).toStrictEqual([]);
    expect(w.apiBodies.length).toBeGreaterThan(10);
    // A viewer has no replay button, and opening the other department's device says it does not exist.
    await w.page.goto(`${base}/#/device/tr-secret-01`);
    await w.page.getByText('No such device (or not visible to you).').waitFor();
    expect(w.cspViolations).toStrictEqual([]);
    await w.context.close();
  }, 120_000);

  it('lists 10,000 devices keeping only the rows in view in the page; scrolling and filtering stay quick', async () => {
    await admin('POST', '/v1/departments', { id: 'parks', name: 'parks' });
    const rows = Array.from(
      { length: 10_000 },
      (_, i) => `parks-${String(i).padStart(5, '0')},Tree ${i},parks,soil,,,`,
    );
    const imported = await fetch(`${base}/v1/devices/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'text/csv' },
      body: ['id,name,department,type,district,lat,lon', ...rows].join('\n'),
    });
    expect(imported.status).toBe(201);
    const key = (
      await admin<{ key: string }>('POST', '/v1/keys', { name: 'Parks', department: 'parks', scopes: ['read'] })
    ).body.key;
    const w = await openPage(browser, DESK);
    await signInWithKey(w, key);
    let t0 = Date.now();
    await w.page.goto(`${base}/#/devices`);
    await w.page.getByText('10000 / 10000 shown').waitFor();
    const shownMs = Date.now() - t0;
    expect(await w.page.locator('[data-device]').count()).toBeLessThanOrEqual(40);
    t0 = Date.now();
    await w.page.locator('ul.virtual').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await w.page.locator('[data-device=parks-09999]').waitFor();
    const scrollMs = Date.now() - t0;
    t0 = Date.now();
    await w.page.getByLabel('Filter').fill('parks-0500');
    await w.page.getByText('10 / 10000 shown').waitFor();
    const filterMs = Date.now() - t0;
    expect(await w.page.locator('[data-device]').count()).toBe(10);
    console.log(
      `10,000 devices: list shown ${shownMs} ms after navigation, scroll to the end ${scrollMs} ms, filter ${filterMs} ms`,
    );
    await w.context.close();
  }, 120_000);

  it('switches to German and back; the language is the browser’s by default', async () => {
    const w = await openPage(browser, DESK, 'de-DE');
    await w.page.goto(base);
    await w.page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    await w.page.getByLabel('Sprache').selectOption('en');
    await w.page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    await w.context.close();
  });

  it('is usable with the keyboard alone: sign in, move through the navigation, open a device', async () => {
    const w = await openPage(browser, DESK);
    await w.page.goto(base);
    const key = await keyOf('Kai Keyboard', ['read']);
    const focused = () =>
      w.page.evaluate<string | null>(
        'document.activeElement?.getAttribute("name") ?? document.activeElement?.textContent',
      );
    for (let i = 0; i < 10 && (await focused()) !== 'apiKey'; i++) await w.page.keyboard.press('Tab');
    await w.page.keyboard.type(key);
    await w.page.keyboard.press('Enter');
    await w.page.locator('header .user').waitFor();
    for (let i = 0; i < 10 && (await focused()) !== 'Devices'; i++) await w.page.keyboard.press('Tab');
    await w.page.keyboard.press('Enter');
    await w.page.locator('[data-device=env-hafen] a').focus();
    await w.page.keyboard.press('Enter');
    await w.page.getByRole('heading', { name: 'Station 1' }).waitFor();
    await w.context.close();
  });

  it('the device page asks for 30 days as 6-hour means the rollups serve, names the source, and prints black on white without navigation', async () => {
    const w = await openPage(browser, DESK);
    await signInWithKey(w, await keyOf('Vera Viewer 2', ['read']));
    await w.page.goto(`${base}/#/device/env-marktplatz`);
    await w.page.getByText('Source: raw readings').waitFor();
    const asked = w.page.waitForRequest((r) => new URL(r.url()).pathname === '/v1/readings/aggregate');
    await w.page.getByRole('button', { name: '30 d' }).click();
    const query = new URL((await asked).url()).searchParams;
    expect([query.get('device'), query.get('every'), query.get('fn')]).toStrictEqual(['env-marktplatz', '6h', 'mean']);
    const span = Date.parse(query.get('to')!) - Date.parse(query.get('from')!);
    expect(span).toBe(30 * 86_400_000);
    // Whole hours of mean are what the hourly rollups answer; the API says which data answered.
    const answer = await apiClient(base, TEST_ADMIN_KEY)<{ source: string }>(
      'GET',
      `/v1/readings/aggregate?${query.toString()}`,
    );
    expect(['raw', '1h', '1d']).toContain(answer.body.source);
    const label = { raw: 'raw readings', '1h': 'hourly rollups', '1d': 'daily rollups' }[answer.body.source]!;
    await w.page.getByText(`Source: ${label}`).waitFor();
    await w.page.locator('.chart canvas').first().waitFor();
    expect(await seriousViolations(w.page)).toStrictEqual([]);

    await w.page.emulateMedia({ media: 'print' });
    expect(await w.page.locator('nav').isHidden()).toBe(true);
    expect(await w.page.locator('header').isHidden()).toBe(true);
    expect(await w.page.getByRole('button', { name: '30 d' }).isHidden()).toBe(true);
    expect(await w.page.locator('.chart canvas').first().isVisible()).toBe(true);
    expect(
      await w.page
        .locator('.chart canvas')
        .first()
        .evaluate(
          (c) =>
            (globalThis as unknown as { getComputedStyle(e: typeof c): { filter: string } }).getComputedStyle(c).filter,
        ),
    ).toBe('grayscale(1) contrast(5)');
    await screenshot(w.page, 'device-print');
    await w.page.emulateMedia({ media: 'screen' });
    expect(await w.page.locator('nav').isVisible()).toBe(true);
    expect(w.cspViolations).toStrictEqual([]);
    await w.context.close();
  });

  it('a department admin acknowledges a firing alert with a note; the alert’s history shows the acknowledgement', async () => {
    const adminKey = await keyOf('Dana Admin 2', ['read', 'write', 'provision', 'admin']);
    const dept = apiClient(base, adminKey);
    const rule = await dept('POST', '/v1/rules', {
      id: 'park-heat',
      name: 'Park heat',
      quantity: 'air_temperature',
      unit: 'Cel',
      device: 'env-park',
      above: 30,
    });
    expect(rule.status).toBe(201);
    const pushed = await fetch(`${base}/v1/ingest/canonical?device=env-park`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ values: { air_temperature: 35.5 } }),
    });
    expect(pushed.status).toBeLessThan(300);
    const firing = await eventually(
      async () => (await dept<{ alerts: Array<{ id: number; state: string }> }>('GET', '/v1/alerts')).body.alerts,
      (alerts) => alerts.some((a) => a.state === 'firing'),
    );
    const id = firing.find((a) => a.state === 'firing')!.id;

    const w = await openPage(browser, DESK);
    await signInWithKey(w, adminKey);
    await w.page.goto(`${base}/#/alerts`);
    await w.page.locator(`[data-alert="${id}"]`).waitFor();
    await w.page.getByRole('button', { name: `Acknowledge #${id}` }).click();
    await w.page.getByLabel('Note').fill('Sensor in direct sun, moving it Monday');
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await w.page.locator('form').getByRole('button', { name: 'Acknowledge', exact: true }).click();
    await w.page.getByRole('heading', { name: `History of alert #${id}` }).waitFor();
    const rows = await w.page
      .locator('table.alert-history tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)));
    expect(rows).toStrictEqual([
      ['firing', '35.5', ''],
      ['acknowledged', '35.5', 'Sensor in direct sun, moving it Monday'],
    ]);
    await expect(w.page.locator(`[data-alert="${id}"] td`).nth(2).textContent()).resolves.toBe('firing · acknowledged');
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await screenshot(w.page, 'admin-alert-ack');
    const alert = await dept<{ ackNote: string; ackedBy: string }>('GET', `/v1/alerts/${id}`);
    expect(alert.body.ackNote).toBe('Sensor in direct sun, moving it Monday');
    expect(w.cspViolations).toStrictEqual([]);
    await w.context.close();
  });

  it('a department admin replays a dead letter once its device is registered', async () => {
    // A reading of a device not yet registered goes to the dead-letter store...
    const pushed = await fetch(`${base}/v1/ingest/canonical?device=env-late`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ values: { air_temperature: 19.25 } }),
    });
    expect(pushed.status).toBe(422);
    const { deadLetterId } = (await pushed.json()) as { deadLetterId: number };
    // ...then the device is registered in the department, whose admin replays the message from the console.
    await admin('POST', '/v1/devices', {
      id: 'env-late',
      name: 'Late',
      department: 'environment',
      type: 'air_quality',
    });
    const w = await openPage(browser, DESK);
    await signInWithKey(w, await keyOf('Dana Admin', ['read', 'write', 'provision', 'admin']));
    await w.page.goto(`${base}/#/dead-letters`);
    await w.page.locator(`[data-dead-letter="${deadLetterId}"]`).waitFor();
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await screenshot(w.page, 'admin-dead-letters');
    await w.page.getByRole('button', { name: `Replay #${deadLetterId}` }).click();
    await w.page.getByText('Replayed: replayed').waitFor();
    const entry = await admin<{ status: string }>('GET', `/v1/dead-letters/${deadLetterId}`);
    expect(entry.body.status).toBe('replayed');
    expect(w.cspViolations).toStrictEqual([]);
    await w.context.close();
  });
});
