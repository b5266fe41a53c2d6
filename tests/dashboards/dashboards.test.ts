import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Dashboard, Panel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxQLAnnotationTarget } from '../../dashboards/src/annotations.ts';
import { DASHBOARDS, DATASOURCE_UID, type InfluxQLTarget } from '../../dashboards/src/index.ts';
import { renderFiles, updateReadme } from '../../dashboards/src/render.ts';
import { DEVICE_TYPE_IDS, quantitiesOf } from '../../devices/simulator/device-types.ts';
import { startDemoFleet } from '../../services/cli/demo.ts';
import { startPlatform } from '../../services/cli/platform.ts';
import type { Config } from '../../services/common/config.ts';
import { InfluxQuery } from '../../services/common/influx.ts';
import { fieldSet, floatValue, intValue, pointLine, stringValue, tagSet } from '../../services/common/line-protocol.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { DAY_MS, HOUR_MS } from '../../services/common/rollups.ts';
import { SELF_METRICS } from '../../services/common/self-metrics.ts';
import { eventually, testConfig } from '../helpers/env.ts';

const DASHBOARDS_DIR = path.resolve(import.meta.dirname, '../../dashboards');
const built = DASHBOARDS.map((d) => ({ file: d.file, dashboard: d.build() }));

/**
 * Grafana's own substitutions for the time range and interval: "Last 1 hour", as it sends them, and two longer
 * ranges whose intervals make the time-series panels read the hourly and the daily rollups (dashboards/src/sources.ts).
 */
interface Range {
  source: 'raw' | '1h' | '1d';
  timeFilter: string;
  interval: string;
  intervalMs: number;
}
const LAST_HOUR: Range = { source: 'raw', timeFilter: 'time > now() - 1h', interval: '10s', intervalMs: 10_000 };
/** "This year" (now/y), the default of dashboards that show a year's figures. */
const THIS_YEAR: Range = {
  ...LAST_HOUR,
  timeFilter: `time >= '${new Date(Date.UTC(new Date().getUTCFullYear(), 0, 1)).toISOString()}'`,
};
const RANGES: readonly Range[] = [
  LAST_HOUR,
  { source: '1h', timeFilter: 'time > now() - 2d', interval: '10m', intervalMs: 600_000 },
  { source: '1d', timeFilter: 'time > now() - 30d', interval: '1d', intervalMs: 86_400_000 },
];

const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).filter((p): p is Panel => 'targets' in p);
const targetsOf = (p: Panel): InfluxQLTarget[] => (p.targets ?? []) as unknown as InfluxQLTarget[];
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Substitutes Grafana's macros and the template variables; an unknown `$name` fails instead of reaching InfluxDB. */
function interpolate(query: string, values: Record<string, string>, range: Range = LAST_HOUR): string {
  return query
    .replace(/\$timeFilter/g, range.timeFilter)
    .replace(/\$__interval_ms/g, String(range.intervalMs))
    .replace(/\$__interval/g, range.interval)
    .replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (_m, a?: string, b?: string, c?: string) => {
      const name = (a ?? b ?? c) as string;
      const value = values[name];
      if (value === undefined) throw new Error(`unresolved variable $${name} in ${query}`);
      return value;
    });
}

/**
 * Resolves the dashboard's variables the way Grafana does: each variable's own query (with the variables before it
 * substituted) against InfluxDB. `mode: all` selects every returned value of a multi-value variable (as a regex
 * alternation of the real values), `mode: first` selects only the first one.
 */
async function resolveVariables(
  influx: InfluxQuery,
  variables: VariableModel[],
  mode: 'all' | 'first',
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const v of variables) {
    const [series = []] = await influx.query(interpolate(String(v.query), values));
    // SHOW TAG VALUES answers key/value rows, SHOW MEASUREMENTS name rows.
    const idx = series[0]?.columns.indexOf('value') ?? -1;
    const column = Math.max(idx, 0);
    const options = series.flatMap((s) => s.values.map((row) => String(row[column])));
    expect(options.length, `variable $${v.name} offers no values`).toBeGreaterThan(0);
    values[v.name] =
      v.multi && mode === 'all' ? `(${options.map(escapeRegex).join('|')})` : escapeRegex(options[0] as string);
  }
  return values;
}

describe('Grafana dashboards', () => {
  let config: Config;
  let influx: InfluxQuery;
  let stopAll: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // Self-metrics every second: the pipeline and fleet dashboards read what the platform itself wrote.
    config = testConfig({ SUS_SELF_METRICS_INTERVAL_S: '1', SUS_ROLLUP_INTERVAL_S: '3600' });
    influx = new InfluxQuery(config);
    const platform = await startPlatform(config, silentLogger, { broker: true, api: false });
    const sim = await startDemoFleet(platform.registry, {
      mqttPort: platform.mqttPort!,
      // Sixteen devices cover all eight device types (each type gets at least one) at a third of the start-up cost.
      count: 16,
      intervalMs: 1000,
      log: silentLogger,
    });
    stopAll = async () => {
      await sim.stop();
      await platform.stop();
    };
    // Every demo device publishes all its quantities right after connecting: wait until every one of every type has
    // landed, or the rollups below run without it (a hand-kept list left out vehicle_count, and its rolled-up panels
    // came out empty when the traffic counters' first readings reached InfluxDB after the rollup run).
    const quantities = [...new Set(DEVICE_TYPE_IDS.flatMap(quantitiesOf))];
    await eventually(
      async () => (await influx.query(`SELECT count("value") FROM ${quantities.map((q) => `"${q}"`).join(',')}`))[0],
      (series) => series?.length === quantities.length,
      20_000,
    );
    // One message the pipeline rejects, through the in-process source, so the rejects-by-reason panel has a row.
    await platform.ingest!.ingestor.handle({
      device: 'aq-altstadt-01',
      topic: 'sus/v1/devices/aq-altstadt-01/up',
      channel: 'up',
      payload: Buffer.from('{"values": {"pm2_5": '),
      receivedAt: Date.now(),
      source: 'mqtt',
    });
    // Alert changes as the alert engine writes them (its sus_alert line is tested in tests/services/ingest/alerts),
    // through the same spool, so the alerts dashboard has a firing and a resolution of a demo device.
    const aq = (await platform.registry.getDevice('aq-altstadt-01'))!;
    const alertTags = tagSet({ department: aq.department, device: aq.id, rule: 'pm-high', severity: 'warning' });
    await platform.ingest!.spool.append(
      (['firing', 'resolved'] as const).map((state, i) =>
        pointLine(
          'sus_alert',
          alertTags,
          fieldSet({
            state: stringValue(state),
            alert: intValue(1),
            value: floatValue(30 - i * 20),
            text: stringValue(`PM high: ${state} on ${aq.id} (pm2_5 ${30 - i * 20} µg/m³)`),
          }),
          Date.now() - 60_000 + i * 1000,
        ),
      ),
    );
    // The fleet goes offline before the platform stops, so presence records offline devices too.
    await sim.stop();
    // Rollups as a day later: the demo's hour and day are closed and rolled up, for the panels' longer ranges.
    await platform.rollups!.runOnce(Date.now() + DAY_MS + 2 * HOUR_MS);
    const selfMetrics = Object.values(SELF_METRICS);
    await eventually(
      async () => ((await influx.query('SHOW MEASUREMENTS'))[0]?.[0]?.values ?? []).map((v) => String(v[0])),
      (names) => selfMetrics.every((m) => names.includes(m)),
      20_000,
    );
    await stopAll();
    stopAll = undefined;
  }, 60_000);

  afterAll(async () => {
    await stopAll?.();
    await influx?.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => undefined);
  });

  it('has stable dashboard UIDs, titles and panel counts', () => {
    expect(
      Object.fromEntries(built.map(({ file, dashboard: d }) => [file, [d.uid, d.title, panelsOf(d).length]])),
    ).toStrictEqual({
      'city-overview': ['sus-city-overview', 'SUS · City overview', 5],
      'fleet-health': ['sus-fleet-health', 'SUS · Fleet health', 8],
      'air-quality': ['sus-air-quality', 'SUS · Air quality', 6],
      'air-quality-report': ['sus-air-quality-report', 'SUS · Air-quality limit values', 3],
      climate: ['sus-climate', 'SUS · Climate', 7],
      noise: ['sus-noise', 'SUS · Noise', 3],
      'water-level': ['sus-water-level', 'SUS · Water level', 3],
      'green-spaces': ['sus-green-spaces', 'SUS · Trees and green spaces', 3],
      'parking-traffic': ['sus-parking-traffic', 'SUS · Parking and traffic', 5],
      alerts: ['sus-alerts', 'SUS · Alerts', 5],
      pipeline: ['sus-pipeline', 'SUS · Platform pipeline health', 11],
    });
  });

  it('names the provisioned InfluxDB data source by UID in every panel, target and query variable', () => {
    const provisioned = readFileSync(path.join(DASHBOARDS_DIR, 'provisioning/datasources/influxdb.yaml'), 'utf8');
    expect(provisioned).toMatch(new RegExp(`^\\s+uid: ${DATASOURCE_UID}$`, 'm'));
    const refs: unknown[] = [];
    for (const { dashboard: d } of built) {
      for (const p of panelsOf(d)) {
        refs.push(p.datasource);
        for (const t of targetsOf(p)) refs.push(t.datasource);
      }
      for (const v of d.templating?.list ?? []) if (v.type === 'query') refs.push(v.datasource);
    }
    expect(refs.length).toBeGreaterThan(50);
    expect(new Set(refs.map((r) => JSON.stringify(r)))).toStrictEqual(
      new Set([JSON.stringify({ type: 'influxdb', uid: DATASOURCE_UID })]),
    );
  });

  it('keeps the generated JSON, the gazetteer and the dashboard list of dashboards/README.md in step with dashboards/src', () => {
    for (const [rel, content] of renderFiles()) {
      expect(
        readFileSync(path.join(DASHBOARDS_DIR, rel), 'utf8'),
        `${rel} is stale: run npm run dashboards:build`,
      ).toBe(content);
    }
    const readme = readFileSync(path.join(DASHBOARDS_DIR, 'README.md'), 'utf8');
    expect(updateReadme(readme), 'dashboards/README.md is stale: run npm run dashboards:build').toBe(readme);
  });

  it.each(built.map((b) => [b.file, b.dashboard] as const))(
    '%s: every panel query returns at least one series from the demo fleet and self-metrics',
    async (_file, dashboard) => {
      const values = await resolveVariables(influx, dashboard.templating?.list ?? [], 'all');
      const results: Record<string, number> = {};
      for (const panel of panelsOf(dashboard)) {
        for (const target of targetsOf(panel)) {
          // Targets of one source (raw or a rollup) answer for the ranges whose interval selects it.
          let found = 0;
          const ownRange = dashboard.time?.from === 'now/y' ? THIS_YEAR : LAST_HOUR;
          for (const range of target.query.includes('$__interval_ms') ? RANGES : [ownRange]) {
            const [series = []] = await influx.query(interpolate(target.query, values, range), 'POST');
            if (series.length > 0) found = 1;
          }
          results[`${panel.title} [${target.refId}]`] = found;
        }
      }
      // One entry per target: an empty panel shows up by name in the diff.
      expect(results).toStrictEqual(Object.fromEntries(Object.keys(results).map((k) => [k, 1])));
    },
  );

  it('time-series panels read raw readings for short ranges, hourly rollups past a few days and daily ones past months', async () => {
    const read: Record<string, string[]> = {};
    for (const { dashboard } of built) {
      const values = await resolveVariables(influx, dashboard.templating?.list ?? [], 'all');
      for (const panel of panelsOf(dashboard)) {
        const targets = targetsOf(panel).filter((t) => t.query.includes('$__interval_ms'));
        if (targets.length === 0) continue;
        const sources: string[] = [];
        for (const range of RANGES) {
          for (const t of targets) {
            const [series = []] = await influx.query(interpolate(t.query, values, range), 'POST');
            if (series.length > 0) sources.push(`${range.source}: ${t.refId}`);
          }
        }
        read[`${dashboard.uid} ${panel.title}`] = sources;
      }
    }
    expect(Object.keys(read).length).toBeGreaterThanOrEqual(15);
    // For each range exactly one source answers: A raw readings, B hourly rollups, C daily rollups.
    expect(read).toStrictEqual(Object.fromEntries(Object.keys(read).map((k) => [k, ['raw: A', '1h: B', '1d: C']])));
  });

  it('every panel and annotation query is valid InfluxQL with one real value per variable', async () => {
    for (const { dashboard } of built) {
      const values = await resolveVariables(influx, dashboard.templating?.list ?? [], 'first');
      const queries = panelsOf(dashboard).flatMap((p) => targetsOf(p).map((t) => t.query));
      for (const a of dashboard.annotations?.list ?? []) queries.push((a.target as InfluxQLAnnotationTarget).query);
      for (const query of queries) {
        await expect(influx.query(interpolate(query, values), 'POST')).resolves.toBeInstanceOf(Array);
      }
    }
  });

  it("shows alert changes (sus_alert) as annotations, scoped by the dashboard's department and device variables", async () => {
    const annotations = Object.fromEntries(
      built.map(({ file, dashboard: d }) => [file, JSON.parse(JSON.stringify(d.annotations?.list ?? [])) as unknown]),
    );
    const DS = { type: 'influxdb', uid: DATASOURCE_UID };
    const alerts = (where: string) => [
      {
        name: 'Alerts',
        enable: true,
        hide: false,
        iconColor: 'red',
        builtIn: 0,
        placement: 'inControlsMenu',
        datasource: DS,
        target: {
          refId: 'Alerts',
          datasource: DS,
          query: `SELECT "text", "rule", "device", "state", "severity" FROM "sus_alert" WHERE ${where} AND $timeFilter`,
          rawQuery: true,
          resultFormat: 'table',
          fromAnnotations: true,
          textColumn: 'text',
          tagsColumn: 'rule,device,state,severity',
        },
      },
    ];
    const both = alerts('"department" =~ /^$department$/ AND "device" =~ /^$device$/');
    expect(annotations).toStrictEqual({
      'city-overview': alerts('"department" =~ /^$department$/'),
      'fleet-health': both,
      'air-quality': both,
      'air-quality-report': both,
      climate: both,
      noise: both,
      'water-level': both,
      'green-spaces': both,
      'parking-traffic': both,
      alerts: both,
      pipeline: [],
    });
    // Against the demo's alert change of aq-altstadt-01 (written in beforeAll): the air-quality dashboard with its
    // variables at All shows both changes, with the text Grafana displays.
    const airQuality = built.find((b) => b.file === 'air-quality')!.dashboard;
    const values = await resolveVariables(influx, airQuality.templating?.list ?? [], 'all');
    const query = (airQuality.annotations!.list![0]!.target as InfluxQLAnnotationTarget).query;
    const [series = []] = await influx.query(interpolate(query, values), 'POST');
    expect(series.flatMap((s) => s.values.map((v) => v.slice(1)))).toStrictEqual([
      ['PM high: firing on aq-altstadt-01 (pm2_5 30 µg/m³)', 'pm-high', 'aq-altstadt-01', 'firing', 'warning'],
      ['PM high: resolved on aq-altstadt-01 (pm2_5 10 µg/m³)', 'pm-high', 'aq-altstadt-01', 'resolved', 'warning'],
    ]);
  });
});
