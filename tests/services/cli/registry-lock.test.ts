import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLock } from '../../../services/cli/data-dir-lock.ts';
import { keysCommand } from '../../../services/cli/keys.ts';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { loadConfig } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { testConfig } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';
import { startSus } from '../../helpers/sus-process.ts';

/**
 * `sus keys` and `sus migrate` open the registry straight, beside a running platform. The embedded PGlite is files
 * one process may open: a second opening them (and migrating, or writing a key) beside the platform corrupts them.
 * So on PGlite they take the data-directory lock the platform holds, and are refused while it runs; on PostgreSQL
 * they need no lock.
 */

/** `sus <args>` as an operator runs it: exit code, stdout, stderr. */
async function sus(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const p = startSus(args, { LOG_LEVEL: 'silent', ...env });
  const code = await p.exited;
  return {
    code,
    out: p
      .log()
      .map((l) => `${l}\n`)
      .join(''),
    err: p.stderr(),
  };
}

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sus-registry-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('sus keys and sus migrate on the embedded registry (PGlite)', () => {
  let platform: Platform | undefined;
  afterAll(async () => platform?.stop());

  it('are refused with SUS_ERR_DATA_DIR_LOCKED naming the running platform, and work once it stopped', async () => {
    const dir = freshDir();
    platform = await startPlatform(testConfig({ SUS_DATA_DIR: dir }), silentLogger, { broker: false, api: true });
    const config = loadConfig({ SUS_DATA_DIR: dir, LOG_LEVEL: 'silent' });
    let out = '';
    const write = (s: string) => {
      out += s;
    };

    for (const args of [['list'], ['create', '--name', 'ops', '--scopes', 'read']]) {
      await expect(keysCommand(config, args, write)).rejects.toMatchObject({
        code: 'SUS_ERR_DATA_DIR_LOCKED',
        message: expect.stringContaining(`is in use by pid ${process.pid} `),
      });
    }
    expect(out).toBe('');
    const migrate = await sus(['migrate'], { SUS_DATA_DIR: dir });
    expect([migrate.code, migrate.out]).toStrictEqual([1, '']);
    expect(migrate.err).toContain(`sus: SUS_DATA_DIR ${dir} is in use by pid ${process.pid} `);
    expect(migrate.err).toContain('(sus api, started ');

    // The platform's registry was left alone: it still serves, and what it wrote is there afterwards.
    const { record } = await platform.registry.keys.create({
      name: 'while running',
      department: null,
      scopes: ['read'],
    });
    await platform.stop();
    platform = undefined;

    expect(await keysCommand(config, ['list'], write)).toBe(0);
    expect(out).toContain(`${record.id}\twhile running\t(platform)\tread\tactive\n`);
    expect(await sus(['migrate'], { SUS_DATA_DIR: dir })).toStrictEqual({
      code: 0,
      out: 'registry schema is up to date (pglite)\n',
      err: '',
    });
  }, 120_000);
});

const postgres = process.env.TEST_DATABASE_URL;
if (!postgres) console.warn('TEST_DATABASE_URL is unset: the PostgreSQL case is skipped; npm test starts one');

describe.skipIf(!postgres)('sus keys and sus migrate on PostgreSQL', () => {
  it('need no data-directory lock: they run while another process holds it', async () => {
    const schema = (await freshSchema())!;
    const dir = freshDir();
    const lock = await DataDirLock.acquire(dir, 'sus run');
    try {
      const config = loadConfig({ SUS_DATA_DIR: dir, DATABASE_URL: schema.url, LOG_LEVEL: 'silent' });
      expect(await keysCommand(config, ['list'], () => undefined)).toBe(0);
      expect(await sus(['migrate'], { SUS_DATA_DIR: dir, DATABASE_URL: schema.url })).toStrictEqual({
        code: 0,
        out: 'registry schema is up to date (postgres)\n',
        err: '',
      });
    } finally {
      await lock.release();
      await schema.drop();
    }
  }, 60_000);
});
