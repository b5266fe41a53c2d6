import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { SusError } from '../common/errors.ts';
import { generatedDeviceId } from '../common/grammar.ts';
import type { NewDevice, Registry } from '../registry/index.ts';
import { takenId } from './device-ids.ts';
import { NewDeviceSchema } from './schemas.ts';

export const IMPORT_COLUMNS = ['id', 'name', 'department', 'type', 'district', 'lat', 'lon'] as const;

const blankToNull = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? null : v);
const RowSchema = NewDeviceSchema.extend({
  id: z.preprocess((v) => blankToNull(v) ?? undefined, NewDeviceSchema.shape.id),
  department: z.preprocess((v) => blankToNull(v) ?? undefined, NewDeviceSchema.shape.department),
  district: z.preprocess(blankToNull, NewDeviceSchema.shape.district),
  lat: z.preprocess((v) => (blankToNull(v) === null ? null : Number(v)), NewDeviceSchema.shape.lat),
  lon: z.preprocess((v) => (blankToNull(v) === null ? null : Number(v)), NewDeviceSchema.shape.lon),
});

export interface ImportError {
  line: number;
  field: string;
  message: string;
}

export interface ImportLimits {
  /** Rows a file may hold (SUS_IMPORT_MAX_ROWS). */
  maxRows: number;
  /** Row errors listed in the answer (SUS_IMPORT_MAX_ERRORS); the count is always complete. */
  maxErrors: number;
}

/**
 * Validates every row of a device CSV (header: id,name,department,type,district,lat,lon) and returns the devices
 * to create, or throws one 400 listing the bad rows by line number. Nothing is written here: the caller creates
 * them in one transaction, so an import is all or nothing.
 */
export async function validateImport(
  csv: string,
  registry: Registry,
  ownDepartment: string | undefined,
  limits: ImportLimits,
): Promise<Array<NewDevice & { id: string }>> {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    // One record past the limit is enough to refuse the file: the parser stops there.
    records = parse(csv, {
      columns: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
      to: limits.maxRows + 1,
    });
  } catch (err) {
    throw new SusError('SUS_ERR_IMPORT_INVALID', `not a readable CSV file: ${(err as Error).message}`, 400);
  }
  if (records.length === 0) throw new SusError('SUS_ERR_IMPORT_INVALID', 'the file holds no device rows', 400);
  if (records.length > limits.maxRows)
    throw new SusError(
      'SUS_ERR_IMPORT_TOO_LARGE',
      `the file holds more than ${limits.maxRows} device rows (SUS_IMPORT_MAX_ROWS): split it`,
      413,
      { limit: limits.maxRows },
    );
  const errors: ImportError[] = [];
  const out: Array<NewDevice & { id: string }> = [];
  const seen = new Map<string, number>();
  const departments = new Set((await registry.listDepartments()).map((d) => d.id));
  for (const { record, info } of records) {
    const line = info.lines;
    const unknown = Object.keys(record).filter((k) => !(IMPORT_COLUMNS as readonly string[]).includes(k));
    for (const k of unknown)
      errors.push({ line, field: k, message: `unknown column; expected ${IMPORT_COLUMNS.join(',')}` });
    const parsed = RowSchema.safeParse(record);
    if (!parsed.success) {
      for (const i of parsed.error.issues) errors.push({ line, field: i.path.join('.') || 'row', message: i.message });
      continue;
    }
    const row = parsed.data;
    const department = row.department ?? ownDepartment;
    if (department === undefined) {
      errors.push({ line, field: 'department', message: 'required for a platform-wide key' });
      continue;
    }
    if (ownDepartment !== undefined && department !== ownDepartment)
      errors.push({ line, field: 'department', message: `this key may only import devices of '${ownDepartment}'` });
    else if (!departments.has(department))
      errors.push({ line, field: 'department', message: `department '${department}' does not exist` });
    const id = row.id ?? generatedDeviceId(row.type);
    const dup = seen.get(id);
    if (dup !== undefined) errors.push({ line, field: 'id', message: `device '${id}' is also on line ${dup}` });
    seen.set(id, line);
    out.push({ ...row, id, department });
  }
  // One query for every id of the file.
  const taken = await registry.departmentsOf(out.map((d) => d.id));
  for (const d of out) {
    const owner = taken.get(d.id);
    if (owner !== undefined)
      errors.push({ line: seen.get(d.id)!, field: 'id', message: takenId(d.id, owner, ownDepartment).message });
  }
  if (errors.length > 0) {
    errors.sort((a, b) => a.line - b.line);
    const listed = errors.slice(0, limits.maxErrors);
    const more = errors.length > listed.length ? `; the first ${listed.length}` : '';
    throw new SusError(
      'SUS_ERR_IMPORT_INVALID',
      `${errors.length} error(s); nothing was imported${more}: ${listed.map((e) => `line ${e.line} ${e.field}: ${e.message}`).join('; ')}`,
      400,
      { errors: listed.map((e) => ({ field: e.field, message: e.message, line: e.line })), errorCount: errors.length },
    );
  }
  return out;
}
