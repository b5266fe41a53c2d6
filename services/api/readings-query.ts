import type { Catalogue } from '../common/catalogue.ts';
import { badRequest } from '../common/errors.ts';
import { type InfluxQuery, influxIdent, influxString } from '../common/influx.ts';

export interface ReadingRow {
  device: string;
  quantity: string;
  value: number;
  unit: string;
  time: string;
}

export interface ReadingsFilter {
  device?: string;
  quantity?: string;
  /** Restricts to one department's data (department-scoped keys). */
  department?: string;
  from: number;
  to: number;
  limit: number;
}

/** Quantity names become measurement identifiers: only catalogue names are ever put into a query. */
function measurements(catalogue: Catalogue, quantity: string | undefined): string[] {
  if (quantity === undefined) return catalogue.names();
  const q = catalogue.get(quantity);
  if (!q)
    throw badRequest(`'${quantity}' is not a quantity of the catalogue`, 'SUS_ERR_UNKNOWN_QUANTITY', {
      field: 'quantity',
    });
  return [q.name];
}

function whereClause(f: Pick<ReadingsFilter, 'device' | 'department'>, from?: number, to?: number): string {
  const parts: string[] = [];
  if (from !== undefined) parts.push(`time >= ${influxString(new Date(from).toISOString())}`);
  if (to !== undefined) parts.push(`time <= ${influxString(new Date(to).toISOString())}`);
  if (f.device !== undefined) parts.push(`"device" = ${influxString(f.device)}`);
  if (f.department !== undefined) parts.push(`"department" = ${influxString(f.department)}`);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/** Raw readings in time order; `limit + 1` rows are fetched per series to know whether another page exists. */
export async function queryReadings(
  influx: InfluxQuery,
  catalogue: Catalogue,
  f: ReadingsFilter,
): Promise<{ readings: ReadingRow[]; next: string | null }> {
  const names = measurements(catalogue, f.quantity);
  const from = names.map(influxIdent).join(',');
  const q = `SELECT "value" FROM ${from}${whereClause(f, f.from, f.to)} GROUP BY "device" ORDER BY time ASC LIMIT ${f.limit + 1}`;
  const [series = []] = await influx.query(q);
  const rows: Array<ReadingRow & { ms: number }> = [];
  for (const s of series) {
    const unit = catalogue.get(s.name)?.unit ?? '';
    const device = s.tags?.device ?? '';
    for (const [t, v] of s.values) {
      if (typeof v !== 'number') continue;
      rows.push({
        device,
        quantity: s.name,
        value: v,
        unit,
        time: new Date(t as number).toISOString(),
        ms: t as number,
      });
    }
  }
  rows.sort((a, b) => a.ms - b.ms || a.device.localeCompare(b.device) || a.quantity.localeCompare(b.quantity));
  const more = rows.length > f.limit;
  const page = rows.slice(0, f.limit);
  // Cursor: the next page starts after the last returned millisecond (rows sharing it are all on this page).
  let next: string | null = null;
  if (more) {
    const lastMs = page[page.length - 1]!.ms;
    const cut = page.findIndex((r) => r.ms === lastMs);
    if (cut > 0) page.length = cut;
    next = new Date(page[page.length - 1]!.ms + 1).toISOString();
  }
  return { readings: page.map(({ ms: _ms, ...r }) => r), next };
}

/** Last value of every quantity a device reported. */
export async function queryLatest(
  influx: InfluxQuery,
  catalogue: Catalogue,
  device: string,
): Promise<Array<{ quantity: string; value: number; unit: string; time: string }>> {
  const from = catalogue.names().map(influxIdent).join(',');
  const [series = []] = await influx.query(`SELECT last("value") AS "value" FROM ${from}${whereClause({ device })}`);
  return series
    .flatMap((s) => {
      const [t, v] = s.values[0] ?? [];
      return typeof v === 'number' && typeof t === 'number'
        ? [{ quantity: s.name, value: v, unit: catalogue.get(s.name)?.unit ?? '', time: new Date(t).toISOString() }]
        : [];
    })
    .sort((a, b) => a.quantity.localeCompare(b.quantity));
}
