import type { Catalogue } from '../common/catalogue.ts';
import { type InfluxQuery, influxIdent } from '../common/influx.ts';
import type { Logger } from '../common/logger.ts';
import type { LatestValue, LatestValueStore } from './latest-values.ts';

/** Series per InfluxDB answer: 5,000 series of `last()` are ~0.7 MB, far inside SUS_QUERY_MAX_BYTES. */
const SERIES_PER_QUERY = 5000;
const PROGRESS_EVERY_MS = 5000;

/**
 * Fills an empty latest-value store from InfluxDB (`last()` per device series, quantity by quantity, in pages of
 * series), so latest reads are right after a first start on existing data or a registry restored without the table.
 * Values ingest writes meanwhile are not overwritten: the store keeps the newer of both. Returns the values written.
 */
export async function rebuildLatest(
  store: LatestValueStore,
  influx: InfluxQuery,
  catalogue: Catalogue,
  log: Logger,
): Promise<number> {
  const names = catalogue.names();
  const started = Date.now();
  let total = 0;
  let logged = started;
  log.info({ quantities: names.length }, 'latest-value store is empty: rebuilding it from InfluxDB');
  for (const [i, name] of names.entries()) {
    const unit = catalogue.get(name)?.unit ?? '';
    for (let offset = 0; ; offset += SERIES_PER_QUERY) {
      const [series = []] = await influx.query(
        `SELECT last("value") AS "value", "flags" FROM ${influxIdent(name)} GROUP BY "device" SLIMIT ${SERIES_PER_QUERY} SOFFSET ${offset}`,
      );
      const values: LatestValue[] = [];
      for (const s of series) {
        const row = s.values[0] ?? [];
        const [t, v] = row;
        const device = s.tags?.device;
        if (typeof t !== 'number' || typeof v !== 'number' || !device) continue;
        const flags = row[s.columns.indexOf('flags')];
        values.push({
          device,
          quantity: name,
          value: v,
          unit,
          time: t,
          ...(typeof flags === 'string' && flags ? { flags: flags.split(',') } : {}),
        });
      }
      total += await store.upsert(values);
      if (series.length < SERIES_PER_QUERY) break;
    }
    // A line every few seconds, not one per quantity: the catalogue has dozens.
    if (Date.now() - logged >= PROGRESS_EVERY_MS) {
      logged = Date.now();
      log.info(
        { quantity: name, done: i + 1, of: names.length, values: total, ms: logged - started },
        'latest-value store rebuild progress',
      );
    }
  }
  log.info({ values: total, ms: Date.now() - started }, 'latest-value store rebuilt from InfluxDB');
  return total;
}
