import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startPlatform } from '../../../services/cli/platform.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { testConfig } from '../../helpers/env.ts';

/** The API alone on a registry kept in a directory, so a second start sees what the first one did. */
async function start(dir: string, adminKey: string) {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const platform = await startPlatform(testConfig({ SUS_DATA_DIR: dir, SUS_ADMIN_KEY: adminKey }), log, {
    api: true,
  });
  const api = (key: string) => apiClient(`http://127.0.0.1:${platform.httpPort}`, key);
  return { platform, api, lines };
}

/** Revokes the key itself, through the API. */
async function revokeItself(api: ReturnType<typeof apiClient>) {
  const keys = await api<{ keys: Array<{ id: string; name: string }> }>('GET', '/v1/keys');
  const own = keys.body.keys.find((k) => k.name === 'bootstrap-admin')!;
  expect((await api('DELETE', `/v1/keys/${own.id}`)).status).toBe(200);
}

// Two starts of a registry on disk each: PGlite opening and migrating a directory takes seconds on a busy machine.
describe('the bootstrap admin key: a revocation sticks across restarts', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sus-bootstrap-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('does not bring a revoked SUS_ADMIN_KEY back; the platform starts and the log says what to do', async () => {
    const dir = tempDir();
    const key = 'operator-chosen-admin-key-0123456789';
    const first = await start(dir, key);
    expect((await first.api(key)('GET', '/v1/devices')).status).toBe(200);
    await revokeItself(first.api(key));
    await first.platform.stop();

    const second = await start(dir, key);
    try {
      expect((await second.api(key)('GET', '/v1/devices')).status).toBe(401);
      expect(second.lines.filter((l) => l.level === 50).map((l) => l.msg)).toStrictEqual([
        'SUS_ADMIN_KEY is a revoked API key and stays revoked: set SUS_ADMIN_KEY to a new key (24 characters or more), ' +
          'or mint one with `sus keys create --name admin --scopes admin`',
      ]);
    } finally {
      await second.platform.stop();
    }
  });

  it('generates a key on the first start only: a revoked one is not replaced, and the log says so', async () => {
    const dir = tempDir();
    const first = await start(dir, '');
    const generated = first.platform.generatedAdminKey!;
    expect(generated).toMatch(/^sus_/);
    await revokeItself(first.api(generated));
    await first.platform.stop();

    const second = await start(dir, '');
    try {
      expect(second.platform.generatedAdminKey).toBeUndefined();
      expect((await second.api(generated)('GET', '/v1/devices')).status).toBe(401);
      expect(second.lines.filter((l) => l.level === 40).map((l) => l.msg)).toStrictEqual([
        'the generated bootstrap admin key was revoked; no new one is generated: mint an admin key with ' +
          '`sus keys create --name admin --scopes admin`, or set SUS_ADMIN_KEY',
      ]);
    } finally {
      await second.platform.stop();
    }
  });
});
