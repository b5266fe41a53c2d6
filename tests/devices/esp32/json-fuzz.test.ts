import { beforeAll, describe, expect, it } from 'vitest';
import { buildFuzz, ctest, FUZZ_BUILD_DIR } from './host-build.ts';

describe('the firmware JSON parser under libFuzzer (clang, ASan + UBSan)', () => {
  beforeAll(buildFuzz, 300_000);

  it('finds no crash, out-of-bounds read, undefined behaviour, broken round trip or non-UTF-8 ack in 20 s', async () => {
    // The CTest test `json-fuzz` fuzzes for SUS_FUZZ_SECONDS (20) from fuzz/seeds plus what earlier runs found.
    const { code, output } = await ctest(FUZZ_BUILD_DIR, 120_000, true);
    if (code !== 0) {
      const finding = output.split('\n').filter((line) => !/^\d+: #\d+\s+(NEW|REDUCE|pulse)/.test(line));
      throw new Error(`json-fuzz failed; the input is kept as ${FUZZ_BUILD_DIR}/json-fuzz-*:\n${finding.join('\n')}`);
    }
    expect(output).toMatch(/Test #1: json-fuzz \.+ +Passed/);
    // The fuzzer really ran: thousands of inputs, not a target that returned before parsing.
    const runs = /stat::number_of_executed_units: (\d+)/.exec(output);
    expect(Number(runs?.[1])).toBeGreaterThan(1000);
  }, 180_000);
});
