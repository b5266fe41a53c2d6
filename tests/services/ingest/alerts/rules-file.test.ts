import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogue } from '../../../../services/common/catalogue.ts';
import { normaliseRule, RuleInputSchema } from '../../../../services/common/rules.ts';
import { loadRulesFile } from '../../../../services/ingest/alerts/rules-file.ts';
import { type Db, migrate, Registry } from '../../../../services/registry/index.ts';
import { openTestDb } from '../../../helpers/pg.ts';

describe('SUS_RULES_FILE: rules kept as code, synchronised into the registry at start', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-rules-file-'));
  const file = path.join(dir, 'rules.json');
  let db: Db;
  let drop: () => Promise<void>;
  let registry: Registry;
  beforeAll(async () => {
    ({ db, drop } = await openTestDb(undefined));
    await migrate(db);
    registry = new Registry(db);
    await registry.createDepartment({ id: 'drainage', name: 'Drainage' });
  });
  afterAll(async () => {
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (rules: unknown) => writeFileSync(file, JSON.stringify(rules));
  const weir = { id: 'weir-high', owner: 'drainage', name: 'Weir high', quantity: 'water_level', above: 2 };

  it('creates, replaces and deletes the file’s rules and leaves rules made through the API alone', async () => {
    const api = normaliseRule(
      RuleInputSchema.parse({ name: 'by hand', quantity: 'pm10', above: 50 }),
      'drainage',
      'by-hand',
      catalogue,
    );
    await registry.rules.create(api, 'key_abc');
    write([weir, { ...weir, id: 'weir-low', name: 'Weir low', above: undefined, below: 0.1 }]);
    expect(await registry.rules.sync(loadRulesFile(file, catalogue), 'SUS_RULES_FILE')).toStrictEqual({
      created: 2,
      updated: 0,
      removed: 0,
    });
    write([{ ...weir, unit: 'cm', above: 250 }]);
    expect(await registry.rules.sync(loadRulesFile(file, catalogue), 'SUS_RULES_FILE')).toStrictEqual({
      created: 0,
      updated: 1,
      removed: 1,
    });
    const rules = await registry.rules.list();
    expect(rules.map((r) => [r.id, r.condition?.value ?? null])).toStrictEqual([
      ['by-hand', 50],
      ['weir-high', 2.5],
    ]);
    write([{ ...weir, id: 'by-hand' }]);
    await expect(registry.rules.sync(loadRulesFile(file, catalogue), 'SUS_RULES_FILE')).rejects.toThrow(
      "rule 'by-hand' exists already and was not made by SUS_RULES_FILE",
    );
  });

  it('refuses a broken file naming every problem by position and field', () => {
    write([
      { ...weir, unit: 'ug/m3' },
      { ...weir, id: 'two', above: undefined },
      { ...weir, id: 'three', department: 'parks' },
    ]);
    expect(() => loadRulesFile(file, catalogue)).toThrow(
      `invalid SUS_RULES_FILE ${file}:\n` +
        "  - 0.unit: water_level thresholds cannot be given in 'ug/m3': the catalogue converts m, cm, mm, [ft_i] only\n" +
        '  - 1.condition: a threshold rule needs above, below, outside, inside or condition\n' +
        "  - 2.department: a rule on another department's data is made through the API",
    );
    write([{ name: 'no id or owner', quantity: 'pm10', above: 1 }]);
    expect(() => loadRulesFile(file, catalogue)).toThrow(/0\.id: .*\n {2}- 0\.owner: /);
  });
});
