import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, buildHost, ctest, FIRMWARE_DIR } from './host-build.ts';

/** TEST_CASEs in the C++ sources CTest should know: the core suite and the glue tests. */
function sourceTestCases(): number {
  let count = 0;
  for (const dir of ['test-host/test_core', 'test-host/glue']) {
    for (const file of readdirSync(path.join(FIRMWARE_DIR, dir)).filter((f) => f.endsWith('.cpp'))) {
      count += readFileSync(path.join(FIRMWARE_DIR, dir, file), 'utf8').match(/^TEST_CASE(_FIXTURE)?\(/gm)?.length ?? 0;
    }
  }
  return count;
}

describe('ESP32 firmware on the host (C++, CTest)', () => {
  beforeAll(buildHost, 300_000);

  // The test's own timeout covers ctest's: the vitest default (30 s) ended it first on a loaded machine.
  const CTEST_TIMEOUT_MS = 120_000;

  it(
    'passes every CTest test: each doctest case of the core (ASan + UBSan) and of the glue against the stubs',
    async () => {
      // ctest exits non-zero on any failing case, and the failing case's doctest output is in the message.
      const { code, output } = await ctest(BUILD_DIR, CTEST_TIMEOUT_MS);
      if (code !== 0) throw new Error(`C++ host tests failed (ctest exit ${code}):\n${output}`);
      // Every TEST_CASE in the sources is registered with CTest (doctest_discover_tests), none silently left out.
      const summary = /100% tests passed, 0 tests failed out of (\d+)/.exec(output);
      expect(Number(summary?.[1])).toBe(sourceTestCases());
      expect(sourceTestCases()).toBeGreaterThanOrEqual(30);
      expect(output).toContain('glue: a provisioned board connects');
      expect(output).toContain('json property: every value the writer writes reads back identical');
    },
    CTEST_TIMEOUT_MS + 10_000,
  );
});
