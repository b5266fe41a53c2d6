import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { apiClient } from '../helpers/api-client.ts';
import { launchBrowser, openPage, PHONE, screenshot, seriousViolations } from '../helpers/browser.ts';
import { TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import { buildConsole } from './build.ts';

/**
 * A y4m video (what Chromium's fake camera plays, looping) of a device label: the QR code of `text`, black on white,
 * centred in a 640×480 frame.
 */
function labelVideo(text: string, file: string): void {
  const [w, h, scale, frames] = [640, 480, 8, 5];
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  const luma = Buffer.alloc(w * h, 235);
  const left = Math.floor((w - size * scale) / 2);
  const top = Math.floor((h - size * scale) / 2);
  for (let y = 0; y < size * scale; y++)
    for (let x = 0; x < size * scale; x++)
      if (qr.modules.get(Math.floor(y / scale), Math.floor(x / scale))) luma[(top + y) * w + left + x] = 16;
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  writeFileSync(
    file,
    Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), ...Array(frames).fill(frame)]),
  );
}

/** A technician finds a device by pointing the phone's camera at its label (Chromium's fake camera plays one). */
describe('console, technician on a phone: find a device by scanning its label’s QR code', () => {
  let platform: Platform;
  let browser: Browser;
  let base: string;
  let techKey: string;
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-scan-'));
  beforeAll(async () => {
    buildConsole();
    platform = await startPlatform(testConfig(), silentLogger, { api: true });
    base = `http://127.0.0.1:${platform.httpPort}`;
    const admin = apiClient(base, TEST_ADMIN_KEY);
    expect((await admin('POST', '/v1/departments', { id: 'environment', name: 'Umweltamt' })).status).toBe(201);
    const created = await admin('POST', '/v1/devices', {
      id: 'aq-label-07',
      name: 'Hafen',
      department: 'environment',
      type: 'air_quality',
    });
    expect(created.status).toBe(201);
    techKey = (
      await admin<{ key: string }>('POST', '/v1/keys', {
        name: 'Tom Technician',
        department: 'environment',
        scopes: ['read', 'provision'],
      })
    ).body.key;
    // The label names the device by a link to its live check, as a printed label would.
    const video = path.join(dir, 'label.y4m');
    labelVideo(`${base}/#/check/aq-label-07`, video);
    browser = await launchBrowser([
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${video}`,
    ]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens the camera, reads the label (jsQR where the browser has no BarcodeDetector) and opens the device’s live check', async () => {
    const w = await openPage(browser, PHONE);
    await w.context.grantPermissions(['camera'], { origin: base });
    await w.page.goto(base);
    await w.page.getByLabel('API key').fill(techKey);
    await w.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await w.page.locator('header .user').waitFor();
    await w.page.goto(`${base}/#/field`);
    await w.page.getByRole('button', { name: 'Scan the label' }).click();
    await w.page.getByRole('heading', { name: 'Live check: aq-label-07' }).waitFor({ timeout: 20_000 });
    expect(new URL(w.page.url()).hash).toBe('#/check/aq-label-07');
    // The camera is let go once the label is read.
    expect(await w.page.locator('video.camera').count()).toBe(0);
    expect(await seriousViolations(w.page)).toStrictEqual([]);
    await screenshot(w.page, 'technician-scanned');
    expect(w.cspViolations).toStrictEqual([]);
    await w.context.close();
  });
});
