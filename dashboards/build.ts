/**
 * `npm run dashboards:build`: writes the Grafana JSON (dashboards/generated), the demo gazetteer and the
 * dashboard list of dashboards/README.md from dashboards/src. The output is deterministic and committed;
 * tests/dashboards fails when it is stale.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderFiles, updateReadme } from './src/render.ts';

const ROOT = import.meta.dirname;
const files = renderFiles();
// Drop dashboards that no longer exist in the code, or Grafana would keep provisioning them.
for (const name of readdirSync(path.join(ROOT, 'generated'))) {
  if (!files.has(`generated/${name}`)) rmSync(path.join(ROOT, 'generated', name));
}
for (const [rel, content] of files) {
  mkdirSync(path.dirname(path.join(ROOT, rel)), { recursive: true });
  writeFileSync(path.join(ROOT, rel), content);
}
// The list stands in this folder's README only (the project README links to it), generated so it cannot drift.
const readme = path.join(ROOT, 'README.md');
writeFileSync(readme, updateReadme(readFileSync(readme, 'utf8')));
console.log(`dashboards: wrote ${files.size} files and the dashboard list of dashboards/README.md`);
