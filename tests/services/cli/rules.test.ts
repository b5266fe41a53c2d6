import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { rulesCommand } from '../../../services/cli/rules.ts';
import type { Config } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

describe('sus rules list|add|rm against a running API', () => {
  let platform: Platform;
  let config: Config;
  let base: string;
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-rules-cli-'));
  const run = async (...args: string[]) => {
    let out = '';
    const code = await rulesCommand(config, [...args, '--api', base, '--key', TEST_ADMIN_KEY], (t) => {
      out += t;
    });
    return { code, out };
  };

  beforeAll(async () => {
    config = testConfig();
    platform = await startPlatform(config, silentLogger, { api: true });
    base = `http://127.0.0.1:${platform.httpPort}`;
    await platform.registry.ensureDepartment({ id: 'drainage', name: 'Drainage' });
    await platform.registry.createDevice({ id: 'weir-1', name: 'Weir', department: 'drainage', type: 'water_gauge' });
  });
  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a rule from flags (threshold in cm) and from a file in the simple form, lists and removes them', async () => {
    const flags = await run(
      'add',
      '--owner',
      'drainage',
      '--name',
      'Weir high',
      '--quantity',
      'water_level',
      '--unit',
      'cm',
      '--device',
      'weir-1',
      '--above',
      '180',
      '--webhook',
      'https://ops.example/hook',
      '--secret',
      'sixteen-characters!',
    );
    expect(flags.code).toBe(0);
    const id = flags.out.split(' ')[0]!;
    expect(flags.out).toBe(`${id} created (drainage)\n`);
    const file = path.join(dir, 'rule.json');
    writeFileSync(
      file,
      JSON.stringify({
        owner: 'drainage',
        id: 'weir-low',
        name: 'Weir low',
        quantity: 'water_level',
        device: 'weir-1',
        below: 0.2,
      }),
    );
    expect(await run('add', '--file', file)).toStrictEqual({ code: 0, out: 'weir-low created (drainage)\n' });
    expect((await run('list')).out.split('\n').sort()).toStrictEqual(
      [
        '',
        `${id}\tdrainage\tWeir high\twater_level above 1.8 m\tweir-1\twarning`,
        'weir-low\tdrainage\tWeir low\twater_level below 0.2 m\tweir-1\twarning',
      ].sort(),
    );
    expect(await run('rm', 'weir-low')).toStrictEqual({ code: 0, out: 'weir-low deleted\n' });
    const left = JSON.parse((await run('list', '--json')).out) as Array<{ id: string; notify: unknown[] }>;
    expect(left.map((r) => [r.id, r.notify])).toStrictEqual([
      [id, [{ type: 'webhook', url: 'https://ops.example/hook', secret: '***' }]],
    ]);
  });

  it("refuses what the API refuses with the API's reason, and bad flags before asking it", async () => {
    await expect(
      run('add', '--owner', 'drainage', '--name', 'x', '--quantity', 'water_level', '--unit', 'ug/m3', '--above', '1'),
    ).rejects.toThrow("POST /v1/rules → 400: water_level thresholds cannot be given in 'ug/m3'");
    await expect(run('add', '--name', 'x', '--above', 'high')).rejects.toThrow('--above must be a number');
    await expect(run('rm')).rejects.toThrow('sus rules rm needs the rule id');
    expect((await run('frobnicate')).code).toBe(2);
  });
});
