import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CATALOGUE_FILE_URL,
  Catalogue,
  type CatalogueFile,
  CatalogueFileSchema,
  catalogue,
  parseCatalogueFile,
  type QuantityDef,
} from '../../../services/common/catalogue.ts';

const rawFile = (): unknown => JSON.parse(readFileSync(CATALOGUE_FILE_URL, 'utf8'));

const must = (name: string): QuantityDef => {
  const q = catalogue.get(name);
  if (q === undefined) throw new Error(`quantity '${name}' missing from catalogue`);
  return q;
};

const REQUIRED: Record<string, string> = {
  air_temperature: 'Cel',
  relative_humidity: '%RH',
  air_pressure: 'Pa',
  pm2_5: 'ug/m3',
  pm10: 'ug/m3',
  no2: 'ug/m3',
  co2: 'ppm',
  noise_laeq: 'dBA',
  water_level: 'm',
  soil_moisture: '%',
  soil_temperature: 'Cel',
  fill_level: '%',
  parking_occupied: '/',
  vehicle_count: 'count',
  battery_voltage: 'V',
  rssi: 'dBm',
  snr: 'dB',
  wind_speed: 'm/s',
  precipitation: 'mm',
  illuminance: 'lx',
};

describe('quantity catalogue data file', () => {
  it('validates against CatalogueFileSchema', () => {
    const result = CatalogueFileSchema.safeParse(rawFile());
    expect(result.success, JSON.stringify(result.error?.issues, null, 2)).toBe(true);
  });

  it('contains every required quantity with its canonical unit', () => {
    for (const [name, unit] of Object.entries(REQUIRED)) {
      expect(catalogue.get(name)?.unit, name).toBe(unit);
    }
    expect(catalogue.names()).toEqual(expect.arrayContaining(Object.keys(REQUIRED)));
  });

  it('has no name or alias claimed by two quantities (case-insensitive)', () => {
    // Computed from the raw JSON, independently of the schema's own check, so a collision added to the data file
    // fails here with the offending keys listed.
    const file = rawFile() as { quantities: { name: string; aliases: string[] }[] };
    const owners = new Map<string, Set<string>>();
    for (const q of file.quantities) {
      for (const key of [q.name, ...q.aliases]) {
        const k = key.toLowerCase();
        const set = owners.get(k) ?? new Set<string>();
        set.add(q.name);
        owners.set(k, set);
      }
    }
    const collisions = [...owners].filter(([, qs]) => qs.size > 1).map(([k, qs]) => `${k}: ${[...qs].join(', ')}`);
    expect(collisions).toEqual([]);
  });

  it('gives every quantity a description and a range with min < max', () => {
    for (const name of catalogue.names()) {
      const q = must(name);
      expect(q.description.length, name).toBeGreaterThan(0);
      expect(q.range[0], name).toBeLessThan(q.range[1]);
    }
  });

  it('maps every unit alias to a symbol some quantity accepts', () => {
    const file = rawFile() as CatalogueFile;
    const symbols = new Set(file.quantities.flatMap((q) => [q.unit, ...Object.keys(q.conversions)]));
    for (const [spelling, target] of Object.entries(file.unitAliases)) {
      expect(symbols.has(target), `${spelling} → ${target}`).toBe(true);
    }
  });
});

describe('CatalogueFileSchema rejects broken data', () => {
  const mutated = (edit: (f: CatalogueFile) => void): unknown => {
    const f = structuredClone(rawFile()) as CatalogueFile;
    edit(f);
    return f;
  };

  it('rejects an alias that collides with another quantity (case-insensitive)', () => {
    const bad = mutated((f) => {
      f.quantities.find((q) => q.name === 'soil_temperature')?.aliases.push('TEMP');
    });
    expect(CatalogueFileSchema.safeParse(bad).success).toBe(false);
  });

  it('rejects a unit alias that re-maps a real catalogue symbol', () => {
    const bad = mutated((f) => {
      f.unitAliases.dB = 'dBA';
    });
    expect(CatalogueFileSchema.safeParse(bad).success).toBe(false);
  });

  it('rejects a range with min >= max and unknown fields', () => {
    expect(
      CatalogueFileSchema.safeParse(
        mutated((f) => {
          const q = f.quantities[0];
          if (q) q.range = [10, 10];
        }),
      ).success,
    ).toBe(false);
    expect(
      CatalogueFileSchema.safeParse(
        mutated((f) => {
          Object.assign(f.quantities[0] ?? {}, { alias: ['typo'] });
        }),
      ).success,
    ).toBe(false);
  });

  it('reports the source and every issue path in one error', () => {
    const bad = mutated((f) => {
      const q = f.quantities[0];
      if (q) {
        q.unit = '';
        q.range = [5, 1];
      }
    });
    expect(() => parseCatalogueFile(bad, '/tmp/quantities.json')).toThrowError(
      /\/tmp\/quantities\.json[\s\S]*quantities\.0\.unit[\s\S]*quantities\.0\.range/,
    );
  });
});

describe('Catalogue.get', () => {
  it('resolves canonical names and aliases to the same definition', () => {
    expect(catalogue.get('temperature')).toBe(must('air_temperature'));
    expect(catalogue.get('temp')).toBe(must('air_temperature'));
    expect(catalogue.get('humidity')).toBe(must('relative_humidity'));
    expect(catalogue.get('pm25')).toBe(must('pm2_5'));
    expect(catalogue.get('noise')).toBe(must('noise_laeq'));
    expect(catalogue.get('laeq')).toBe(must('noise_laeq'));
  });

  it('matches aliases case-insensitively', () => {
    expect(catalogue.get('PM2.5')).toBe(must('pm2_5'));
    expect(catalogue.get('Temperature')).toBe(must('air_temperature'));
    expect(catalogue.get('LAeq')).toBe(must('noise_laeq'));
    expect(catalogue.get('RH')).toBe(must('relative_humidity'));
  });

  it('returns undefined for an unknown quantity', () => {
    expect(catalogue.get('flux_capacitance')).toBeUndefined();
    expect(catalogue.get('')).toBeUndefined();
  });

  it('does not resolve inherited object keys', () => {
    expect(catalogue.get('constructor')).toBeUndefined();
    expect(catalogue.get('__proto__')).toBeUndefined();
  });
});

describe('Catalogue.normaliseUnit', () => {
  it('maps common spellings to catalogue symbols and trims', () => {
    expect(catalogue.normaliseUnit('°C')).toBe('Cel');
    expect(catalogue.normaliseUnit(' degC ')).toBe('Cel');
    expect(catalogue.normaliseUnit('°F')).toBe('[degF]');
    expect(catalogue.normaliseUnit('µg/m³')).toBe('ug/m3');
    expect(catalogue.normaliseUnit('μg/m3')).toBe('ug/m3');
    expect(catalogue.normaliseUnit('kmh')).toBe('km/h');
    expect(catalogue.normaliseUnit('dB(A)')).toBe('dBA');
  });

  it('leaves catalogue symbols and unknown units unchanged', () => {
    expect(catalogue.normaliseUnit('Pa')).toBe('Pa');
    expect(catalogue.normaliseUnit('%')).toBe('%');
    expect(catalogue.normaliseUnit('furlong')).toBe('furlong');
  });
});

describe('Catalogue.toCanonical', () => {
  const convert = (quantity: string, value: number, unit: string): number => {
    const r = catalogue.toCanonical(must(quantity), value, unit);
    if (!r.ok) throw new Error(`unexpected ${r.code} for ${unit}`);
    return r.value;
  };

  it('passes values through unchanged without a unit or in the canonical unit', () => {
    expect(catalogue.toCanonical(must('air_temperature'), 21.5)).toStrictEqual({ ok: true, value: 21.5 });
    expect(catalogue.toCanonical(must('air_temperature'), 21.5, 'Cel')).toStrictEqual({ ok: true, value: 21.5 });
    expect(catalogue.toCanonical(must('air_temperature'), 21.5, '°C')).toStrictEqual({ ok: true, value: 21.5 });
  });

  it('converts temperatures from K and °F', () => {
    expect(convert('air_temperature', 300, 'K')).toBeCloseTo(26.85, 9);
    expect(convert('air_temperature', 212, '°F')).toBeCloseTo(100, 9);
    expect(convert('air_temperature', 32, '[degF]')).toBeCloseTo(0, 9);
    expect(convert('soil_temperature', 273.15, 'K')).toBeCloseTo(0, 9);
  });

  it('converts pressure, speed, concentration, length and voltage units', () => {
    expect(convert('air_pressure', 1013.25, 'hPa')).toBeCloseTo(101325, 6);
    expect(convert('air_pressure', 1013.25, 'mbar')).toBeCloseTo(101325, 6);
    expect(convert('air_pressure', 101.325, 'kPa')).toBeCloseTo(101325, 6);
    expect(convert('air_pressure', 1.01325, 'bar')).toBeCloseTo(101325, 6);
    expect(convert('wind_speed', 36, 'km/h')).toBeCloseTo(10, 9);
    expect(convert('pm2_5', 0.012, 'mg/m3')).toBeCloseTo(12, 9);
    expect(convert('water_level', 150, 'cm')).toBeCloseTo(1.5, 9);
    expect(convert('water_level', 1500, 'mm')).toBeCloseTo(1.5, 9);
    expect(convert('battery_voltage', 3700, 'mV')).toBeCloseTo(3.7, 9);
  });

  it('resolves the ambiguous % per quantity', () => {
    expect(convert('relative_humidity', 55, '%')).toBe(55);
    expect(convert('co2', 0.04, '%')).toBeCloseTo(400, 9);
    expect(catalogue.toCanonical(must('air_temperature'), 55, '%')).toStrictEqual({
      ok: false,
      code: 'UNIT_UNSUPPORTED',
      unit: '%',
    });
  });

  it('accepts plain dB for noise_laeq but keeps dB canonical for snr', () => {
    expect(convert('noise_laeq', 62, 'dB')).toBe(62);
    expect(convert('snr', 7.5, 'dB')).toBe(7.5);
    expect(catalogue.toCanonical(must('snr'), 7.5, 'dBA').ok).toBe(false);
  });

  it('rejects a unit the quantity does not accept with UNIT_UNSUPPORTED and the unit as sent', () => {
    expect(catalogue.toCanonical(must('air_temperature'), 20, 'm')).toStrictEqual({
      ok: false,
      code: 'UNIT_UNSUPPORTED',
      unit: 'm',
    });
    expect(catalogue.toCanonical(must('rssi'), -80, 'furlong')).toStrictEqual({
      ok: false,
      code: 'UNIT_UNSUPPORTED',
      unit: 'furlong',
    });
  });
});

describe('Catalogue.inRange', () => {
  it('accepts values inside the plausible range, bounds included', () => {
    expect(catalogue.inRange(must('air_temperature'), 21)).toBe(true);
    expect(catalogue.inRange(must('air_temperature'), -50)).toBe(true);
    expect(catalogue.inRange(must('air_temperature'), 70)).toBe(true);
    expect(catalogue.inRange(must('relative_humidity'), 100)).toBe(true);
    expect(catalogue.inRange(must('rssi'), -120)).toBe(true);
  });

  it('rejects values outside the range and NaN', () => {
    expect(catalogue.inRange(must('air_temperature'), 70.1)).toBe(false);
    expect(catalogue.inRange(must('relative_humidity'), -1)).toBe(false);
    expect(catalogue.inRange(must('pm2_5'), 1001)).toBe(false);
    expect(catalogue.inRange(must('noise_laeq'), 10)).toBe(false);
    expect(catalogue.inRange(must('battery_voltage'), 3700)).toBe(false);
    expect(catalogue.inRange(must('rssi'), 5)).toBe(false);
    expect(catalogue.inRange(must('air_temperature'), Number.NaN)).toBe(false);
  });
});

describe('Catalogue construction', () => {
  it('throws when two quantities claim the same alias', () => {
    const f = structuredClone(rawFile()) as CatalogueFile;
    f.quantities.find((q) => q.name === 'soil_temperature')?.aliases.push('Temp');
    expect(() => new Catalogue(f)).toThrowError(/temp/);
  });

  it('freezes the shared definitions so callers cannot corrupt them', () => {
    const q = must('air_temperature');
    expect(Object.isFrozen(q)).toBe(true);
    expect(Object.isFrozen(q.range)).toBe(true);
  });
});
