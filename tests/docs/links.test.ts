import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README_MAX_BYTES = 12 * 1024;
// Dependencies, local data and tool folders (.git, .pio, …) hold Markdown that is not the project's.
const skipDir = (name: string) => name === 'node_modules' || name === 'var' || name.startsWith('.');

/** Every Markdown file of the repository (not dependencies, not local data). */
function markdownFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return skipDir(e.name) ? [] : markdownFiles(path.join(dir, e.name));
    return e.name.endsWith('.md') ? [path.join(dir, e.name)] : [];
  });
}

/** The text a reader sees as prose: fenced code blocks and inline code spans removed (their brackets are not links). */
const prose = (md: string): string =>
  md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');

/** Link targets of inline links and images: `[text](target "title")`. */
const linkTargets = (md: string): string[] =>
  [...prose(md).matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').split('\n')) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const text = h[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Why a relative link from `file` does not resolve inside the repository, or undefined when it does. */
function brokenLink(file: string, target: string): string | undefined {
  const [rawPath = '', fragment] = target.split('#', 2);
  const resolved = rawPath === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(rawPath));
  const rel = path.relative(ROOT, resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return 'points outside the repository';
  if (!existsSync(resolved)) return 'no such file';
  if (fragment && statSync(resolved).isFile() && resolved.endsWith('.md')) {
    if (!anchors(readFileSync(resolved, 'utf8')).has(fragment)) return `no heading #${fragment}`;
  }
  return undefined;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe('documentation links', () => {
  const readme = path.join(ROOT, 'README.md');

  it(`keeps the README within ${README_MAX_BYTES} bytes`, () => {
    expect(statSync(readme).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it('links the README only to files inside the repository, and every one resolves', () => {
    const md = readFileSync(readme, 'utf8');
    const problems = linkTargets(md).flatMap((t) => {
      const why = isExternal(t) ? 'leaves the repository' : brokenLink(readme, t);
      return why ? [`${t}: ${why}`] : [];
    });
    // A bare URL in prose is a link too on the usual Markdown renderers.
    const bare = [
      ...prose(md)
        .replace(/\]\([^)]*\)/g, '](…)')
        .matchAll(/\bhttps?:\/\/[^\s)>]+/g),
    ].map((m) => `${m[0]}: a bare URL leaves the repository`);
    expect([...problems, ...bare]).toStrictEqual([]);
  });

  it('resolves every relative link of every Markdown file of the repository, headings included', () => {
    const files = markdownFiles();
    expect(files.length).toBeGreaterThan(10);
    const problems = files.flatMap((file) =>
      linkTargets(readFileSync(file, 'utf8'))
        .filter((t) => !isExternal(t))
        .flatMap((t) => {
          const why = brokenLink(file, t);
          return why ? [`${path.relative(ROOT, file)}: ${t}: ${why}`] : [];
        }),
    );
    expect(problems).toStrictEqual([]);
  });

  it('finds links, skips code, and makes anchors the way GitHub does', () => {
    const md = [
      '# SUS — Smart Urban Services',
      '## Device profiles (`profiles.ts`)',
      '## Setup',
      '## Setup',
      'See [a](docs/a.md#setup), ![img](x.png "t"), `[not](a link)`.',
      '```',
      '[nor](this)',
      '```',
    ].join('\n');
    expect(linkTargets(md)).toStrictEqual(['docs/a.md#setup', 'x.png']);
    expect([...anchors(md)]).toStrictEqual([
      'sus--smart-urban-services',
      'device-profiles-profilests',
      'setup',
      'setup-1',
    ]);
  });
});
