import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const run = promisify(execFile);

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** The layer rules of `npm run lint`, run on `dir` with the repository's own configuration. */
async function violations(dir: string, targets: string[]): Promise<Violation[]> {
  const args = ['--config', path.join(ROOT, '.dependency-cruiser.json'), '--output-type', 'json', ...targets];
  // depcruise exits non-zero when it finds violations; its JSON report is on stdout either way.
  const { stdout } = await run(DEPCRUISE, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const report = JSON.parse(stdout) as {
    summary: { violations: Array<{ from: string; to: string; rule: { name: string } }> };
  };
  return report.summary.violations
    .map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }))
    .sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`));
}

// Each case starts dependency-cruiser, which parses with the TypeScript compiler: seconds on a loaded machine.
const CRUISE_TIMEOUT_MS = 180_000;

describe('layer rules (npm run lint: dependency-cruiser)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'refuse a cross-layer import, an import that skips registry/index.ts and a composition root that skips a layer index',
    async () => {
      cpSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const files: Record<string, string> = {
        'services/common/config.ts': 'export const config = 1;\n',
        'services/common/bad.ts': "export { Registry } from '../registry/index.ts';\n",
        'services/registry/db.ts': 'export const db = 1;\n',
        'services/registry/index.ts': "import { db } from './db.ts';\nexport class Registry {}\nexport { db };\n",
        'services/broker/index.ts': "import { config } from '../common/config.ts';\nexport const broker = config;\n",
        'services/broker/internal.ts': 'export const internal = 1;\n',
        'services/ingest/index.ts': "export * from './spool.ts';\n",
        'services/ingest/spool.ts': 'export const spool = 1;\n',
        // Allowed: its own layer, common, the registry's public surface.
        'services/api/ok.ts':
          "import { config } from '../common/config.ts';\nimport { Registry } from '../registry/index.ts';\nexport const ok = [config, Registry];\n",
        // Refused: another layer (even its index), and the registry's internals (a type import counts too).
        'services/api/routes/bad.ts':
          "import { broker } from '../../broker/index.ts';\nimport type { db } from '../../registry/db.ts';\nexport const bad: [unknown, typeof db] = [broker, 1];\n",
        'services/ingest/bad.ts': "export const later = () => import('../broker/internal.ts');\n",
        // The composition root may use layers' index.ts, not their internals; other CLI files may not use layers.
        'services/cli/platform.ts':
          "import { broker } from '../broker/index.ts';\nimport { spool } from '../ingest/spool.ts';\nexport const p = [broker, spool];\n",
        'services/cli/keys.ts': "import { spool } from '../ingest/index.ts';\nexport const k = spool;\n",
      };
      for (const [file, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      }
      expect(await violations(dir, ['services'])).toStrictEqual([
        { rule: 'layer-imports-another-layer', from: 'services/api/routes/bad.ts', to: 'services/broker/index.ts' },
        { rule: 'layer-imports-another-layer', from: 'services/api/routes/bad.ts', to: 'services/registry/db.ts' },
        { rule: 'layer-imports-another-layer', from: 'services/cli/keys.ts', to: 'services/ingest/index.ts' },
        {
          rule: 'composition-root-uses-public-surfaces',
          from: 'services/cli/platform.ts',
          to: 'services/ingest/spool.ts',
        },
        { rule: 'common-imports-only-common', from: 'services/common/bad.ts', to: 'services/registry/index.ts' },
        { rule: 'layer-imports-another-layer', from: 'services/ingest/bad.ts', to: 'services/broker/internal.ts' },
      ]);
    },
    CRUISE_TIMEOUT_MS,
  );

  it(
    'hold on the repository as it is',
    async () => {
      expect(await violations(ROOT, ['services', 'devices/simulator'])).toStrictEqual([]);
    },
    CRUISE_TIMEOUT_MS,
  );
});
