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
    expect(set.get('river_gauge')?.fields).toStrictEqual({ lvl_mm: { quantity: 'water_level', unit: 'mm' } });
    expect(set.get('water_level_radar')?.fields).toStrictEqual({ h: { quantity: 'water_level' } });
  });
});
