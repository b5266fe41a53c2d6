import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Builds the console when its bundle is stale (the same script npm start and npm test run). */
export function buildConsole(): void {
  execFileSync('bash', [path.join(ROOT, 'infra/console-build.sh')], { cwd: ROOT, stdio: 'inherit' });
}
