import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Catalogue } from '../common/catalogue.ts';
import { SusError } from '../common/errors.ts';
import type { RawReading } from './decoders/types.ts';

/**
 * Device profiles: DATA that maps a device type's own field names to catalogue quantities and units, so a new
 * sensor model needs a profile file, not code. One JSON file per device type in `devices/profiles/`.
 */
export const FieldMappingSchema = z.strictObject({
  quantity: z.string().min(1),
  /** Unit the device sends this field in; overrides none the payload states itself. */
  unit: z.string().min(1).max(32).optional(),
  /** Multiplied into the raw value before unit conversion (e.g. 0.01 for a value sent in hundredths). */
  scale: z
    .number()
    .refine((n) => n !== 0 && Number.isFinite(n), 'scale must be a finite non-zero number')
    .optional(),
});

export const DeviceProfileSchema = z.strictObject({
  /** The registry's device `type` this profile applies to. */
  type: z.string().min(1).max(64),
  description: z.string().optional(),
  fields: z.record(z.string().min(1).max(128), FieldMappingSchema),
  /** Fields the device sends that are not measurements (counters, firmware versions): dropped on purpose. */
  ignore: z.array(z.string().min(1)).default([]),
});

export type FieldMapping = z.output<typeof FieldMappingSchema>;

/**
 * A validated profile, ready for lookups by the field names devices send: a Map and a Set, not objects, since a
 * field called `constructor` or `toString` would otherwise find Object.prototype's members.
 */
export interface DeviceProfile {
  type: string;
  description?: string;
  fields: ReadonlyMap<string, FieldMapping>;
  ignore: ReadonlySet<string>;
}

const hasProtoKey = (raw: unknown, key: string): boolean => {
  if (typeof raw !== 'object' || raw === null) return false;
  const v: unknown = (raw as Record<string, unknown>)[key];
  return typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__');
};

/** The profiles shipped with the platform. */
export const BUILTIN_PROFILES_DIR = fileURLToPath(new URL('../../devices/profiles/', import.meta.url));

/** Validates one profile, including that every mapped quantity exists in the catalogue. */
export function parseProfile(raw: unknown, source: string, catalogue: Catalogue): DeviceProfile {
  const r = DeviceProfileSchema.safeParse(raw);
  const problems = r.success
    ? Object.entries(r.data.fields)
        .filter(([, m]) => catalogue.get(m.quantity) === undefined)
        .map(([f, m]) => `fields.${f}.quantity: '${m.quantity}' is not a quantity of the catalogue`)
    : r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  // zod drops a `__proto__` key from the records it copies: say so instead of losing the mapping unseen.
  if (hasProtoKey(raw, 'fields')) problems.push("fields.__proto__: '__proto__' cannot be a field name");
  if (!r.success || problems.length > 0) {
    throw new SusError('SUS_ERR_PROFILE', `invalid device profile ${source}:\n  - ${problems.join('\n  - ')}`, 500, {
      file: source,
    });
  }
  const profile: DeviceProfile = {
    type: r.data.type,
    fields: new Map(Object.entries(r.data.fields)),
    ignore: new Set(r.data.ignore),
  };
  if (r.data.description !== undefined) profile.description = r.data.description;
  return profile;
}

export function loadProfileFile(file: string, catalogue: Catalogue): DeviceProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SusError('SUS_ERR_PROFILE', `cannot read device profile ${file}: ${(err as Error).message}`, 500, {
      file,
    });
  }
  return parseProfile(raw, file, catalogue);
}

/** Applies a profile: renames mapped fields to their quantity, sets their unit, scales, drops ignored fields. */
export function applyProfile(raw: readonly RawReading[], profile: DeviceProfile | undefined): RawReading[] {
  if (!profile) return [...raw];
  const out: RawReading[] = [];
  for (const r of raw) {
    if (profile.ignore.has(r.name)) continue;
    const m = profile.fields.get(r.name);
    if (!m) {
      out.push(r);
      continue;
    }
    const mapped: RawReading = { ...r, name: m.quantity };
    // A unit in the payload is the device's own statement and wins over the profile's default.
    if (r.unit === undefined && m.unit !== undefined) mapped.unit = m.unit;
    if (m.scale !== undefined && typeof r.value === 'number') mapped.value = r.value * m.scale;
    out.push(mapped);
  }
  return out;
}

/**
 * The profiles of a directory, by device type. `reload()` re-reads the directory (a fixed profile applies to the
 * next message and to dead-letter replays); a broken file keeps the previous set and reports why.
 */
export class ProfileSet {
  private byType = new Map<string, DeviceProfile>();

  constructor(
    private readonly dirs: readonly string[],
    private readonly catalogue: Catalogue,
  ) {
    this.reload();
  }

  reload(): void {
    const next = new Map<string, DeviceProfile>();
    for (const dir of this.dirs) {
      let files: string[];
      try {
        files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const f of files.sort()) {
        const p = loadProfileFile(path.join(dir, f), this.catalogue);
        // Later directories (the operator's) override the built-in profile of the same type.
        next.set(p.type, p);
      }
    }
    this.byType = next;
  }

  get(type: string): DeviceProfile | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }
}
