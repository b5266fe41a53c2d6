import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogue } from '../../../services/common/catalogue.ts';
import { applyProfile, BUILTIN_PROFILES_DIR, ProfileSet, parseProfile } from '../../../services/ingest/profiles.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sus-profiles-'));
  dirs.push(d);
  return d;
};

describe('device profiles', () => {
  it('loads every built-in profile in devices/profiles without error', () => {
    expect(new ProfileSet([BUILTIN_PROFILES_DIR], catalogue).types()).toStrictEqual([
      'dragino_lse01',
      'elsys_ers_co2',
      'water_level_radar',
    ]);
  });

  it('renames mapped fields, sets their unit unless the payload states one, scales, and drops ignored fields', () => {
    const profile = parseProfile(
      {
        type: 't',
        fields: { lvl: { quantity: 'water_level', unit: 'cm' }, t10: { quantity: 'air_temperature', scale: 0.1 } },
        ignore: ['cnt'],
      },
      'inline',
      catalogue,
    );
    expect(
      applyProfile(
        [
          { name: 'lvl', value: 120, field: 'a' },
          { name: 'lvl', value: 1.2, unit: 'm', field: 'b' },
          { name: 't10', value: 215, field: 'c' },
          { name: 'cnt', value: 9, field: 'd' },
          { name: 'co2', value: 400, field: 'e' },
        ],
        profile,
      ),
    ).toStrictEqual([
      { name: 'water_level', value: 120, unit: 'cm', field: 'a' },
      { name: 'water_level', value: 1.2, unit: 'm', field: 'b' },
      { name: 'air_temperature', value: 21.5, field: 'c' },
      { name: 'co2', value: 400, field: 'e' },
    ]);
  });

  it('refuses a profile that maps to a quantity the catalogue does not know, naming the field', () => {
    expect(() => parseProfile({ type: 't', fields: { x: { quantity: 'flux' } } }, 'bad.json', catalogue)).toThrow(
      "invalid device profile bad.json:\n  - fields.x.quantity: 'flux' is not a quantity of the catalogue",
    );
  });

  it('picks up a fixed profile on reload, and an operator directory overrides a built-in type', () => {
    const dir = tempDir();
    const set = new ProfileSet([BUILTIN_PROFILES_DIR, dir], catalogue);
    expect(set.get('river_gauge')).toBeUndefined();
    writeFileSync(
      path.join(dir, 'river.json'),
      JSON.stringify({ type: 'river_gauge', fields: { lvl_mm: { quantity: 'water_level', unit: 'mm' } } }),
    );
    writeFileSync(
      path.join(dir, 'radar.json'),
      JSON.stringify({ type: 'water_level_radar', fields: { h: { quantity: 'water_level' } } }),
    );
    set.reload();
    expect(set.get('river_gauge')?.fields).toStrictEqual(
      new Map([['lvl_mm', { quantity: 'water_level', unit: 'mm' }]]),
    );
    expect(set.get('water_level_radar')?.fields).toStrictEqual(new Map([['h', { quantity: 'water_level' }]]));
  });

  it('maps and ignores fields named like Object.prototype members, and leaves other such names alone', () => {
    const profile = parseProfile(
      {
        type: 't',
        fields: { constructor: { quantity: 'co2', unit: 'ppm' }, toString: { quantity: 'pm10' } },
        ignore: ['hasOwnProperty'],
      },
      'inline',
      catalogue,
    );
    expect(
      applyProfile(
        [
          { name: 'constructor', value: 400, field: 'a' },
          { name: 'toString', value: 12, field: 'b' },
          { name: 'hasOwnProperty', value: 1, field: 'c' },
          { name: 'valueOf', value: 2, field: 'd' },
          { name: '__proto__', value: 3, field: 'e' },
        ],
        profile,
      ),
    ).toStrictEqual([
      { name: 'co2', value: 400, unit: 'ppm', field: 'a' },
      { name: 'pm10', value: 12, field: 'b' },
      { name: 'valueOf', value: 2, field: 'd' },
      { name: '__proto__', value: 3, field: 'e' },
    ]);
  });

  it("refuses a profile mapping a field named '__proto__' instead of dropping the mapping unseen", () => {
    expect(() =>
      parseProfile(JSON.parse('{"type":"t","fields":{"__proto__":{"quantity":"co2"}}}'), 'proto.json', catalogue),
    ).toThrow("invalid device profile proto.json:\n  - fields.__proto__: '__proto__' cannot be a field name");
  });
});
