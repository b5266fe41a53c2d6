import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keysCommand } from '../../../services/cli/keys.ts';
import { loadConfig } from '../../../services/common/config.ts';
import { openRegistry } from '../../../services/registry/index.ts';

describe('sus keys create | list | revoke (straight against the registry)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-keys-'));
  const config = loadConfig({ SUS_DATA_DIR: dir, LOG_LEVEL: 'silent' });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const sus = async (...args: string[]) => {
    let out = '';
    const code = await keysCommand(config, args, (s) => {
      out += s;
    });
    return { code, out };
  };

  it('creates a key shown once, lists it without the secret, revokes it so it no longer authenticates', async () => {
    const registry = await openRegistry(config);
    await registry.ensureDepartment({ id: 'parks', name: 'Parks' });
    await registry.close();

    const created = await sus(
      'create',
      '--name',
      'irrigation app',
      '--department',
      'parks',
      '--scopes',
      'read,provision',
      '--json',
    );
    expect(created.code).toBe(0);
    const { key, record } = JSON.parse(created.out) as {
      key: string;
      record: { id: string; scopes: string[]; department: string };
    };
    expect([record.department, record.scopes]).toStrictEqual(['parks', ['read', 'provision']]);

    const listed = await sus('list', '--department', 'parks');
    expect(listed.out).toBe(`${record.id}\tirrigation app\tparks\tread,provision\tactive\n`);
    expect(listed.out).not.toContain(key);

    expect((await sus('revoke', record.id)).code).toBe(0);
    const reg = await openRegistry(config);
    expect(await reg.keys.find(key)).toBeUndefined();
    await reg.close();
    // Five embedded PGlite starts (each command opens the registry as the CLI does): ~3 s each on an idle core,
    // past the default 30 s when the whole suite shares two cores.
  }, 120_000);

  it('refuses unknown scopes and missing arguments with exit code 2 and says why', async () => {
    expect(await sus('create', '--name', 'x', '--scopes', 'read,superuser')).toStrictEqual({
      code: 2,
      out: 'sus keys create needs --name and --scopes (one or more of read, write, provision, admin); unknown: superuser\n',
    });
    expect((await sus('revoke')).code).toBe(2);
    expect((await sus('rotate')).code).toBe(2);
  });
});
