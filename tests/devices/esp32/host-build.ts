import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const BUILD_DIR = path.join(ROOT, 'var/build/esp32');
export const SUS_DEVICE = path.join(BUILD_DIR, 'sus-device');
export const CORE_TESTS = path.join(BUILD_DIR, 'sus-core-tests');

/**
 * Configures and builds the host project once per test run: test files build in parallel workers, so the build
 * runs under flock and the second caller finds an up-to-date tree (an incremental make is a no-op).
 * Installs the Debian toolchain first when it is missing (infra/device-toolchain.sh; root + Debian only).
 */
export async function buildHost(): Promise<void> {
  await run('bash', [path.join(ROOT, 'infra/device-toolchain.sh')], { cwd: ROOT, timeout: 600_000 });
  mkdirSync(BUILD_DIR, { recursive: true });
  const script = [
    `cmake -S devices/esp32 -B ${JSON.stringify(BUILD_DIR)} > /dev/null`,
    `cmake --build ${JSON.stringify(BUILD_DIR)} -j2 > /dev/null`,
  ].join(' && ');
  try {
    await run('flock', [`${BUILD_DIR}.lock`, 'bash', '-c', script], { cwd: ROOT, timeout: 300_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`host build of devices/esp32 failed: ${e.stderr || e.stdout || e.message}`);
  }
}
