import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAllowed, licenseOf, renderNotices, runtimeDependencies } from '../../docs/src/licenses.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('licences', () => {
  const deps = runtimeDependencies(ROOT);

  it('ships the Apache-2.0 licence text that package.json names', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { license: string };
    const text = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(pkg.license).toBe('Apache-2.0');
    expect(text).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
  });

  it('keeps THIRD-PARTY-NOTICES.md in step with the runtime dependencies: run npm run licenses', () => {
    const file = readFileSync(path.join(ROOT, 'THIRD-PARTY-NOTICES.md'), 'utf8');
    expect(renderNotices(deps), 'THIRD-PARTY-NOTICES.md is stale').toBe(file);
  });

  it('lists the runtime dependencies of package.json and none of the development tools', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const names = new Set(deps.map((d) => d.name));
    expect(Object.keys(pkg.dependencies).filter((n) => !names.has(n))).toStrictEqual([]);
    expect(['vitest', 'typescript', '@biomejs/biome', 'testcontainers'].filter((n) => names.has(n))).toStrictEqual([]);
  });

  it('finds every runtime dependency under a licence compatible with Apache-2.0', () => {
    expect(deps.filter((d) => !isAllowed(d.license)).map((d) => `${d.name}@${d.version}: ${d.license}`)).toStrictEqual(
      [],
    );
  });

  it('refuses copyleft, source-available and unknown licences, and reads SPDX OR / AND expressions', () => {
    expect(
      ['MIT', '(MIT OR GPL-3.0-only)', 'MIT AND GPL-3.0-only', 'GPL-3.0-only', 'SSPL-1.0', 'BUSL-1.1', 'UNKNOWN'].map(
        (l) => isAllowed(l),
      ),
    ).toStrictEqual([true, true, false, false, false, false, false]);
    expect(
      [
        { license: 'ISC' },
        { license: { type: 'MIT' } },
        { licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] },
        {},
      ].map(licenseOf),
    ).toStrictEqual(['ISC', 'MIT', '(MIT OR Apache-2.0)', 'UNKNOWN']);
  });
});
