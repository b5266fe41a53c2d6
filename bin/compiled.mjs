// Whether dist/ (`npm run build`, infra/build.sh) may run in place of the TypeScript: only while its stamp is newer
// than every source file, so an edited source is never shadowed by a stale build. Shared by bin/sus.mjs and
// bench:broker (which says which one it measured).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCES = ['services', 'devices/simulator'];

/** Newest modification time of the TypeScript under `dir` (ms). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      // parentPath from Node 20.12, path before.
      newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** True when dist/ holds a build at least as new as every source file. */
export function compiledIsFresh(root = ROOT) {
  let built;
  try {
    built = statSync(path.join(root, 'dist/BUILT')).mtimeMs;
  } catch {
    return false;
  }
  return SOURCES.every((dir) => newestSource(path.join(root, dir)) <= built);
}
