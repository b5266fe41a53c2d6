import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildHost, CORE_TESTS } from './host-build.ts';

const run = promisify(execFile);

describe('ESP32 firmware core (C++, host build)', () => {
  beforeAll(buildHost, 300_000);

  it('passes every doctest case of the portable core', async () => {
    // doctest exits non-zero on any failure; the summary line proves the cases actually ran.
    const { stdout } = await run(CORE_TESTS, ['--no-colors=true'], { timeout: 60_000 }).catch(
      (err: { stdout?: string; stderr?: string }) => {
        throw new Error(`C++ core tests failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      },
    );
    expect(stdout).toMatch(/Status: SUCCESS!/);
    const cases = /test cases:\s+(\d+)\s+\|\s+(\d+) passed\s+\|\s+0 failed/.exec(stdout);
    expect(cases?.[1]).toBeDefined();
    expect(Number(cases?.[1])).toBeGreaterThanOrEqual(20);
    expect(cases?.[2]).toBe(cases?.[1]);
  });
});
