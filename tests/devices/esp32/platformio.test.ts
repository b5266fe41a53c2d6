import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, buildHost, FIRMWARE_DIR } from './host-build.ts';

const run = promisify(execFile);

/** platformio.ini as PlatformIO reads it: sections of keys, values split into words, `;` comments and continuation lines. */
function readIni(file: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  let key: string[] | undefined;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/;.*$/, '');
    const header = /^\[(.+)\]/.exec(line);
    const entry = /^([A-Za-z_.]+)\s*=(.*)$/.exec(line);
    if (header?.[1]) {
      section = new Map();
      sections.set(header[1], section);
      key = undefined;
    } else if (entry?.[1] !== undefined && section) {
      key = entry[2]?.trim().split(/\s+/).filter(Boolean) ?? [];
      section.set(entry[1], key);
    } else if (key && /^\s+\S/.test(line)) {
      key.push(...line.trim().split(/\s+/));
    } else if (line.trim() !== '') {
      key = undefined;
    }
  }
  return sections;
}

function option(ini: Map<string, Map<string, string[]>>, section: string, key: string): string[] {
  return ini.get(section)?.get(key) ?? [];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? [full, ...walk(full)] : [full];
  });
}

const isSource = (file: string): boolean => /\.(c|cpp)$/.test(file);

interface CompileCommand {
  file: string;
  args: string[];
  target: string;
}

/** What CMake compiled (compile_commands.json): each file with its flags and the target it went into. */
function compileCommands(): CompileCommand[] {
  const entries = JSON.parse(readFileSync(path.join(BUILD_DIR, 'compile_commands.json'), 'utf8')) as {
    file: string;
    command: string;
  }[];
  return entries.map((e) => {
    const args = e.command.split(/\s+/);
    const object = args[args.indexOf('-o') + 1] ?? '';
    return { file: e.file, args, target: /CMakeFiles\/([^/]+)\.dir\//.exec(object)?.[1] ?? '' };
  });
}

const INI = path.join(FIRMWARE_DIR, 'platformio.ini');
const PIO = spawnSync('pio', ['--version']).status === 0;

describe('PlatformIO [env:native] runs the suite CTest runs (platformio.ini)', () => {
  const ini = readIni(INI);
  const testDir = path.join(FIRMWARE_DIR, option(ini, 'platformio', 'test_dir')[0] ?? 'test');
  const nativeFlags = option(ini, 'env:native', 'build_flags');
  beforeAll(buildHost, 300_000);

  it('declares a native doctest environment, a test_dir that exists, and no unit tests on the board', () => {
    expect(option(ini, 'env:native', 'platform')).toStrictEqual(['native']);
    expect(option(ini, 'env:native', 'test_framework')).toStrictEqual(['doctest']);
    expect(nativeFlags).toContain('-std=c++17');
    expect(option(ini, 'platformio', 'test_dir')).toStrictEqual(['test-host']);
    expect(existsSync(testDir)).toBe(true);
    // doctest cannot run on the ESP32 (PlatformIO: "Embedded Tests: No"): `pio test` there would only fail.
    expect(option(ini, 'env:esp32dev', 'test_ignore')).toStrictEqual(['*']);
  });

  it("builds with CMake exactly the test sources PlatformIO finds, each with [env:native]'s build_flags", () => {
    // PlatformIO's layout: every folder named test_* under test_dir is a suite, built with the C/C++ files in the
    // root of test_dir; other folders (glue, arduino-stubs) are not its business.
    const suites = walk(testDir).filter((f) => statSync(f).isDirectory() && path.basename(f).startsWith('test_'));
    expect(suites.map((s) => path.relative(testDir, s))).toStrictEqual(['test_core']);
    const rootFiles = readdirSync(testDir).map((f) => path.join(testDir, f));
    const pioSources = [...rootFiles.filter((f) => statSync(f).isFile()), ...suites.flatMap(walk)].filter(isSource);

    const commands = compileCommands();
    const suite = commands.filter((c) => c.target === 'sus-core-tests' || c.target === 'sus_test_runner');
    expect(suite.map((c) => c.file).sort()).toStrictEqual(pioSources.sort());
    // PlatformIO builds the library under test (lib/sus_core) with the environment's build_flags too.
    const core = commands.filter((c) => c.target === 'sus_core_checked');
    expect(core.length).toBeGreaterThanOrEqual(8);
    for (const c of [...suite, ...core]) {
      for (const flag of nativeFlags) expect(c.args, `${c.file}: ${flag}`).toContain(flag);
    }
  });

  it('has a runner that reports the way the PlatformIO doctest runner reads, and includes PlatformIO can resolve', () => {
    const sources = walk(testDir).filter((f) => f.includes(`${path.sep}test_`) && /\.(cpp|h|hpp)$/.test(f));
    const runner = readFileSync(path.join(testDir, 'test_core/main.cpp'), 'utf8');
    expect(runner).toMatch(
      /#ifdef PIO_UNIT_TESTING[\s\S]*setOption\("success", true\);[\s\S]*setOption\("no-exitcode", true\);[\s\S]*#endif/,
    );
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      // PlatformIO's doctest package provides <doctest.h>; Debian's <doctest/doctest.h> would not build there.
      expect(text, file).not.toContain('doctest/doctest.h');
      // Its library finder resolves "sus/…" in lib/sus_core/src, the library folder PlatformIO scans.
      for (const [, header] of text.matchAll(/#include "(sus\/[^"]+)"/g)) {
        expect(existsSync(path.join(FIRMWARE_DIR, 'lib/sus_core/src', header ?? '')), `${file}: ${header}`).toBe(true);
      }
    }
  });

  it("compiles the ESP32 glue (src/) with [env:esp32dev]'s -D flags, the board's pins", () => {
    const boardDefines = option(ini, 'env:esp32dev', 'build_flags').filter((f) => f.startsWith('-D'));
    expect(boardDefines).toContain('-DSUS_I2C_SDA=21');
    const glue = compileCommands().find((c) => c.file === path.join(FIRMWARE_DIR, 'src/main.cpp'));
    expect(glue?.target).toBe('sus-glue-tests');
    for (const flag of boardDefines) expect(glue?.args).toContain(flag);
  });

  // PlatformIO is not packaged for Debian and PyPI is out of reach in CI; where `pio` is installed this runs it.
  it.skipIf(!PIO)(
    'pio test -e native passes (skipped where PlatformIO is not installed)',
    async () => {
      const { stdout } = await run('pio', ['test', '-d', FIRMWARE_DIR, '-e', 'native'], { timeout: 600_000 });
      expect(stdout).toMatch(/\d+ test cases: \d+ succeeded/);
    },
    600_000,
  );
});
