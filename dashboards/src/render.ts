import type { Dashboard, Panel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { cell, generatedMarkers, markdownTable, replaceGenerated } from '../../docs/src/markdown.ts';
import { demoGazetteer, GAZETTEER_FILE } from './gazetteer.ts';
import { DASHBOARDS } from './index.ts';

const MARKERS = generatedMarkers('dashboards', 'npm run dashboards:build');

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Every generated file, by path relative to dashboards/: the build writes them, the staleness test compares them. */
export function renderFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of DASHBOARDS) files.set(`generated/${d.file}.json`, json(d.build()));
  files.set(`gazetteer/${GAZETTEER_FILE}`, json(demoGazetteer()));
  return files;
}

function variableLine(v: VariableModel): string {
  const query = typeof v.query === 'string' ? v.query : '';
  return `\`$${v.name}\` (${v.label ?? v.name}${v.multi ? ', multi-value with All' : ''}): \`${cell(query)}\``;
}

/** The README section listing every dashboard with its variables and panels, from the same code as the JSON. */
export function renderReadmeSection(dashboards: readonly { file: string; dashboard: Dashboard }[]): string {
  const out: string[] = [MARKERS.begin, ''];
  out.push(
    ...markdownTable(
      ['Dashboard', 'UID', 'File', 'Panels'],
      dashboards.map(({ file, dashboard: d }) => [
        cell(d.title ?? ''),
        `\`${d.uid}\``,
        `\`generated/${file}.json\``,
        String(d.panels?.length ?? 0),
      ]),
    ),
  );
  for (const { dashboard: d } of dashboards) {
    out.push('', `### ${d.title}`, '', d.description ?? '', '');
    const vars = d.templating?.list ?? [];
    if (vars.length > 0) {
      out.push('Variables:', '');
      for (const v of vars) out.push(`- ${variableLine(v)}`);
      out.push('');
    }
    const panels = (d.panels ?? []).filter((p): p is Panel => 'targets' in p);
    out.push(
      ...markdownTable(
        ['#', 'Panel', 'Type', 'What it shows'],
        panels.map((p, i) => [String(i + 1), cell(p.title ?? ''), p.type, cell(p.description ?? '')]),
      ),
    );
  }
  out.push('', MARKERS.end);
  return out.join('\n');
}

/** Replaces the generated section of dashboards/README.md (between the markers) and leaves the rest alone. */
export function updateReadme(readme: string): string {
  const dashboards = DASHBOARDS.map((d) => ({ file: d.file, dashboard: d.build() }));
  return replaceGenerated(readme, 'dashboards', renderReadmeSection(dashboards));
}
