import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, errorTypeUri, renderErrorsDoc } from '../../../services/common/error-codes.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const CATALOGUE_FILE = path.join('services', 'common', 'error-codes.ts');

/** Every source file under services/ (the catalogue itself aside), as [relative path, text]. */
function sources(): Array<[string, string]> {
  return readdirSync(path.join(ROOT, 'services'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mjs|js)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .filter((f) => f !== CATALOGUE_FILE)
    .map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]);
}

const codes = Object.keys(ERROR_CODES);

describe('error catalogue: one list of every SUS_ERR_* code, documented in docs/errors.md', () => {
  it('holds every SUS_ERR_* literal used in services/ (a prefix such as SUS_ERR_SPOOL_ names a family)', () => {
    const missing: string[] = [];
    for (const [file, text] of sources()) {
      for (const [literal] of text.matchAll(/SUS_ERR_[A-Z0-9_]*/g)) {
        const known = literal.endsWith('_') ? codes.some((c) => c.startsWith(literal)) : codes.includes(literal);
        if (!known) missing.push(`${file}: ${literal}`);
      }
    }
    expect(missing).toStrictEqual([]);
  });

  it('has no entry that nothing in services/ uses', () => {
    const all = sources()
      .map(([, text]) => text)
      .join('\n');
    expect(codes.filter((c) => !new RegExp(`\\b${c}\\b`).test(all))).toStrictEqual([]);
  });

  it('gives every code a status of the right class for where it appears and a meaning', () => {
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      const ok =
        e.meaning.length > 10 &&
        (e.surface === 'API' || e.surface === 'ingest'
          ? typeof e.status === 'number' && e.status >= 400 && e.status < 600
          : e.status === null);
      expect([code, ok]).toStrictEqual([code, true]);
    }
  });

  it('is in docs/errors.md as generated (run `npm run docs:build` after changing the catalogue)', () => {
    expect(readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorsDoc());
  });

  it("links each problem type to its code's section of that document", () => {
    const doc = renderErrorsDoc();
    for (const code of codes) {
      const [docPath, anchor] = errorTypeUri(code).split('#') as [string, string];
      expect([docPath, doc.includes(`\n## ${anchor.toUpperCase()}\n`), anchor]).toStrictEqual([
        '/docs/errors.md',
        true,
        code.toLowerCase(),
      ]);
    }
  });
});
