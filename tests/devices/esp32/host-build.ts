import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const FIRMWARE_DIR = path.join(ROOT, 'devices/esp32');
export const BUILD_DIR = path.join(ROOT, 'var/build/esp32');
/** The libFuzzer build (clang): a directory of its own, since CMake builds one directory with one compiler. */
export const FUZZ_BUILD_DIR = path.join(ROOT, 'var/build/esp32-fuzz');
export const SUS_DEVICE = path.join(BUILD_DIR, 'sus-device');

/**
 * Configures and builds a host build directory once per test run: test files build in parallel workers, so the
 * build runs under flock and the second caller finds an up-to-date tree (an incremental build is a no-op).
 * Installs the Debian toolchain first when it is missing (infra/device-toolchain.sh; root + Debian only).
 */
async function build(dir: string, configureArgs: string[]): Promise<void> {
  await run('bash', [path.join(ROOT, 'infra/device-toolchain.sh')], { cwd: ROOT, timeout: 600_000 });
  mkdirSync(dir, { recursive: true });
  const quoted = configureArgs.map((a) => JSON.stringify(a)).join(' ');
  const script = [
    `cmake -S devices/esp32 -B ${JSON.stringify(dir)} ${quoted} > /dev/null`,
    `cmake --build ${JSON.stringify(dir)} -j2 > /dev/null`,
  ].join(' && ');
  try {
    await run('flock', [`${dir}.lock`, 'bash', '-c', script], { cwd: ROOT, timeout: 300_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`host build of devices/esp32 into ${dir} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** sus-device, the core's doctest suite and the glue tests (g++), all registered with CTest. */
export function buildHost(): Promise<void> {
  return build(BUILD_DIR, []);
}

/** The JSON parser's libFuzzer target (clang, ASan + UBSan), registered with CTest as `json-fuzz`. */
export function buildFuzz(): Promise<void> {
  return build(FUZZ_BUILD_DIR, ['-DCMAKE_CXX_COMPILER=clang++', '-DSUS_BUILD_FUZZ=ON']);
}

export interface CtestRun {
  /** ctest's exit status: non-zero when any test failed. */
  code: number;
  output: string;
}

/** Runs every test CTest knows in `dir` (two at a time) with the output of the failing ones, or of all (verbose). */
export async function ctest(dir: string, timeoutMs: number, verbose = false): Promise<CtestRun> {
  const args = ['--test-dir', dir, '--output-on-failure', '-j2', ...(verbose ? ['--verbose'] : [])];
  try {
    const { stdout, stderr } = await run('ctest', args, {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: (e.stdout ?? '') + (e.stderr ?? e.message) };
  }
}
