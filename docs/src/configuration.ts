import type { z } from 'zod';
import { ConfigSchema } from '../../services/common/config.ts';
import { cell, generatedMarkers, markdownTable } from './markdown.ts';

export const CONFIGURATION_MARKERS = generatedMarkers('configuration', 'npm run docs:build');

export interface Setting {
  name: string;
  /** The default as the operator writes it, or undefined when the setting has none (unset). */
  fallback: string | undefined;
  description: string | undefined;
}

/**
 * Sections of the reference, matched in order by name; a setting no rule names lands in "Other settings", so a new
 * one shows up in the reference the moment it is added to the schema.
 */
const GROUPS: ReadonlyArray<{ title: string; match: RegExp }> = [
  { title: 'Process and data', match: /^(LOG_LEVEL|SUS_DATA_DIR|SUS_ADMIN_KEY|DATABASE_URL|SUS_REGISTRY_.*)$/ },
  { title: 'InfluxDB', match: /^(INFLUX_|SUS_INFLUX_)/ },
  { title: 'MQTT broker (layer 1)', match: /^(SUS_MQTTS?_|SUS_LAST_SEEN_|REDIS_URL$)/ },
  {
    title: 'Ingest (layer 2)',
    match:
      /^SUS_(WRITE_|LATEST_|SPOOL_|SELF_METRICS_|MAX_PAYLOAD_|MAX_AGE_|MAX_SKEW_|DEAD_LETTER_|PLAUSIBILITY|PROFILES_|INTEGRATIONS_|REGISTRY_TIMEOUT_|RAW_RETENTION_|HOURLY_RETENTION_|ROLLUP_)/,
  },
  {
    title: 'API (layer 3)',
    match: /^SUS_(HTTP_|QUERY_|API_RATE_|PUBLIC_MQTT_|CLAIM_|IMPORT_|SILENT_|DEFAULT_INTERVAL_|STREAM_)/,
  },
  { title: 'Command line and demo', match: /^SUS_(API_URL|API_KEY|DEMO_)/ },
];
const OTHER = 'Other settings';

/** The settings of the schema in declaration order, with their defaults and `.describe()` texts. */
export function settings(schema: z.ZodPipe<z.ZodObject> = ConfigSchema): Setting[] {
  return Object.entries(schema.in.shape).map(([name, s]) => {
    const type = s as z.ZodType;
    const def = type._zod.def;
    const fallback = def.type === 'default' ? String((def as z.core.$ZodDefaultDef).defaultValue) : undefined;
    return { name, fallback, description: type.description };
  });
}

export function groupOf(name: string): string {
  return GROUPS.find((g) => g.match.test(name))?.title ?? OTHER;
}

/**
 * A description as a sentence: capitalised when it starts with a plain word, closed with a full stop, whichever
 * style its author wrote it in (settings come from several hands).
 */
export function sentence(text: string): string {
  const t = text.trim();
  const capitalised = /^[a-z]+(\s|$)/.test(t) ? `${t[0]!.toUpperCase()}${t.slice(1)}` : t;
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

const defaultCell = (s: Setting): string =>
  s.fallback === undefined ? 'unset' : s.fallback === '' ? '(empty)' : `\`${s.fallback}\``;

/** The generated part of docs/configuration.md: one table per group, settings in schema order. */
export function renderConfigurationSection(all: readonly Setting[] = settings()): string {
  const out: string[] = [CONFIGURATION_MARKERS.begin, ''];
  for (const title of [...GROUPS.map((g) => g.title), OTHER]) {
    const rows = all.filter((s) => groupOf(s.name) === title);
    if (rows.length === 0) continue;
    out.push(`### ${title}`, '');
    out.push(
      ...markdownTable(
        ['variable', 'default', 'meaning'],
        rows.map((s) => [
          `\`${s.name}\``,
          defaultCell(s),
          cell(s.description ? sentence(s.description) : '(no description)'),
        ]),
      ),
      '',
    );
  }
  out.push(CONFIGURATION_MARKERS.end);
  return out.join('\n');
}
