/**
 * The quantity catalogue: the controlled vocabulary (names, canonical units, aliases, unit conversions and plausible
 * ranges) shared by ingest, API, dashboards and simulator. The vocabulary itself is DATA in
 * `./catalogue/quantities.json`; this module validates it once at load and answers lookups.
 *
 * The zod schema below is the single source of truth for the file's shape; the TypeScript types are inferred from it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const QUANTITY_NAME = /^[a-z][a-z0-9_]*$/;

/** A unit symbol or spelling: non-empty, no surrounding whitespace (lookups trim their input). */
const UnitSymbolSchema = z
  .string()
  .min(1)
  .max(32)
  .refine((s) => s.trim() === s, 'must not have leading or trailing whitespace');

/** Linear conversion to the canonical unit: canonical = value * scale + offset. */
export const ConversionSchema = z.strictObject({
  scale: z.number().refine((n) => n !== 0, 'scale must not be 0'),
  offset: z.number(),
});

export const QuantityDefSchema = z.strictObject({
  name: z.string().regex(QUANTITY_NAME, 'must be snake_case: lowercase letters, digits and _'),
  unit: UnitSymbolSchema,
  /** Spelled-out unit and its definition URI (QUDT), for standard interfaces (SensorThings unitOfMeasurement). */
  unitName: z.string().min(1).optional(),
  unitDefinition: z.url().optional(),
  description: z.string().min(1),
  /** URI of what the quantity is (a QUDT quantity kind, an EEA pollutant): the SensorThings ObservedProperty's. */
  definition: z.url().optional(),
  aliases: z.array(z.string().min(1).max(64)),
  range: z.tuple([z.number(), z.number()]).refine(([min, max]) => min < max, 'range must be [min, max] with min < max'),
  conversions: z.record(UnitSymbolSchema, ConversionSchema),
});

export const CatalogueFileSchema = z
  .strictObject({
    version: z.literal(1),
    /** Free-text documentation of the catalogue's conventions. */
    notes: z.array(z.string()).optional(),
    /** Common spelling → catalogue unit symbol (a canonical unit or a conversion key of some quantity). */
    unitAliases: z.record(UnitSymbolSchema, UnitSymbolSchema),
    quantities: z.array(QuantityDefSchema).min(1),
  })
  .superRefine((file, ctx) => {
    // Every symbol the catalogue knows: canonical units and accepted conversion units.
    const symbols = new Set<string>();
    for (const q of file.quantities) {
      symbols.add(q.unit);
      for (const u of Object.keys(q.conversions)) symbols.add(u);
    }

    // Names and aliases share one case-insensitive namespace: a key must resolve to exactly one quantity.
    const owner = new Map<string, string>();
    file.quantities.forEach((q, i) => {
      const claim = (key: string, path: (string | number)[]) => {
        const k = key.toLowerCase();
        const prev = owner.get(k);
        if (prev !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `'${key}' of quantity '${q.name}' collides with a name or alias of quantity '${prev}'`,
          });
        } else {
          owner.set(k, q.name);
        }
      };
      claim(q.name, ['quantities', i, 'name']);
      q.aliases.forEach((a, j) => {
        claim(a, ['quantities', i, 'aliases', j]);
      });

      if (Object.hasOwn(q.conversions, q.unit)) {
        ctx.addIssue({
          code: 'custom',
          path: ['quantities', i, 'conversions', q.unit],
          message: `the canonical unit '${q.unit}' must not be listed as a conversion`,
        });
      }
      for (const u of Object.keys(q.conversions)) {
        if (Object.hasOwn(file.unitAliases, u)) {
          ctx.addIssue({
            code: 'custom',
            path: ['quantities', i, 'conversions', u],
            message: `conversion unit '${u}' is a unitAliases spelling and would never be reached; use '${file.unitAliases[u]}'`,
          });
        }
      }
    });

    for (const [spelling, target] of Object.entries(file.unitAliases)) {
      // An alias of a real symbol would silently re-map it for every quantity (e.g. dB → dBA would break snr).
      if (symbols.has(spelling)) {
        ctx.addIssue({
          code: 'custom',
          path: ['unitAliases', spelling],
          message: `'${spelling}' is itself a catalogue unit symbol and must not be aliased; resolve it per quantity in conversions`,
        });
      }
      if (!symbols.has(target)) {
        ctx.addIssue({
          code: 'custom',
          path: ['unitAliases', spelling],
          message: `target '${target}' is not a canonical or conversion unit of any quantity`,
        });
      }
    }
  });

export type Conversion = z.infer<typeof ConversionSchema>;
export type QuantityDef = z.infer<typeof QuantityDefSchema>;
export type CatalogueFile = z.infer<typeof CatalogueFileSchema>;

export type ToCanonicalResult = { ok: true; value: number } | { ok: false; code: 'UNIT_UNSUPPORTED'; unit: string };

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class Catalogue {
  /**
   * Canonical name and lowercased alias → definition. Built once here because `get` runs for every value of every
   * message on the ingest hot path: one hash lookup instead of scanning every quantity's alias list.
   */
  private readonly byKey = new Map<string, QuantityDef>();
  /** Quantity name → (normalised unit → conversion), so `toCanonical` is a hash lookup, not a scan. */
  private readonly conversionsByName = new Map<string, Map<string, Conversion>>();
  private readonly unitAliases: Map<string, string>;
  private readonly quantityNames: readonly string[];

  /**
   * @param data an already validated catalogue (use {@link parseCatalogueFile} for untrusted input). Definitions are
   *   deep-frozen: they are shared by every caller and mutating one would corrupt the lookup maps.
   * @throws if two quantities claim the same name or alias (case-insensitive).
   */
  constructor(data: CatalogueFile) {
    deepFreeze(data);
    this.unitAliases = new Map(Object.entries(data.unitAliases));
    for (const q of data.quantities) {
      for (const key of [q.name, ...q.aliases.map((a) => a.toLowerCase())]) {
        const prev = this.byKey.get(key);
        if (prev !== undefined && prev !== q) {
          throw new Error(`quantity catalogue: '${key}' is claimed by both '${prev.name}' and '${q.name}'`);
        }
        this.byKey.set(key, q);
      }
      this.conversionsByName.set(q.name, new Map(Object.entries(q.conversions)));
    }
    this.quantityNames = Object.freeze(data.quantities.map((q) => q.name));
  }

  /** The definition for a canonical quantity name or one of its aliases (aliases match case-insensitively). */
  get(name: string): QuantityDef | undefined {
    // Exact hit first (canonical names and lowercase aliases, the common case) avoids allocating a lowercased copy.
    return this.byKey.get(name) ?? this.byKey.get(name.toLowerCase());
  }

  /** Canonical quantity names, in catalogue order. */
  names(): string[] {
    return [...this.quantityNames];
  }

  /** Trims `unit` and maps a common spelling (°C, µg/m³, kmh …) to its catalogue symbol; unknown units pass through. */
  normaliseUnit(unit: string): string {
    const trimmed = unit.trim();
    return this.unitAliases.get(trimmed) ?? trimmed;
  }

  /**
   * Converts `value` given in `unit` to `q`'s canonical unit. A missing unit (undefined or blank) means the value is
   * already canonical. On an unsupported unit the error carries the unit as the device sent it.
   */
  toCanonical(q: QuantityDef, value: number, unit?: string): ToCanonicalResult {
    if (unit === undefined) return { ok: true, value };
    const u = this.normaliseUnit(unit);
    if (u === '' || u === q.unit) return { ok: true, value };
    const conv = this.conversionsByName.get(q.name)?.get(u);
    if (conv === undefined) return { ok: false, code: 'UNIT_UNSUPPORTED', unit };
    return { ok: true, value: value * conv.scale + conv.offset };
  }

  /** Whether `value` (in `q`'s canonical unit) lies within the plausible range, bounds included. NaN is never in range. */
  inRange(q: QuantityDef, value: number): boolean {
    return value >= q.range[0] && value <= q.range[1];
  }
}

/**
 * Validates untrusted catalogue data. Throws one error naming `source` and every zod issue (path and message), so a
 * broken data file is fixed in one pass rather than one issue per restart.
 */
export function parseCatalogueFile(raw: unknown, source: string): CatalogueFile {
  const result = CatalogueFileSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `  - ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new Error(`invalid quantity catalogue ${source}:\n${issues.join('\n')}`);
}

/** Reads, parses and validates a catalogue JSON file. */
export function loadCatalogueFile(url: URL): CatalogueFile {
  const path = fileURLToPath(url);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(url, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read quantity catalogue ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseCatalogueFile(raw, path);
}

/** Location of the default catalogue data file. */
export const CATALOGUE_FILE_URL = new URL('./catalogue/quantities.json', import.meta.url);

/** The platform's catalogue, loaded and validated once at module load. */
export const catalogue: Catalogue = new Catalogue(loadCatalogueFile(CATALOGUE_FILE_URL));
