import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compiledIsFresh } from '../../bin/compiled.mjs';

/** A checkout with one source in each tree bin/sus.mjs compiles, and optionally a build stamp, at given times (s). */
function checkout(times: { service: number; simulator: number; built?: number }): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sus-compiled-'));
  const file = (rel: string, seconds: number) => {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, '');
    utimesSync(p, seconds, seconds);
  };
  file('services/cli/main.ts', times.service);
  file('devices/simulator/fleet.ts', times.simulator);
  if (times.built !== undefined) file('dist/BUILT', times.built);
  return root;
}

describe('bin/sus.mjs runs the compiled dist/ only while it is fresh', () => {
  const roots: string[] = [];
  const make = (times: Parameters<typeof checkout>[0]) => {
    const root = checkout(times);
    roots.push(root);
    return root;
  };
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('runs a build newer than every source file', () => {
    expect(compiledIsFresh(make({ service: 1000, simulator: 1000, built: 2000 }))).toBe(true);
  });

  it('falls back to the TypeScript when a service source was edited after the build', () => {
    expect(compiledIsFresh(make({ service: 3000, simulator: 1000, built: 2000 }))).toBe(false);
  });

  it('falls back to the TypeScript when a simulator source was edited after the build', () => {
    expect(compiledIsFresh(make({ service: 1000, simulator: 3000, built: 2000 }))).toBe(false);
  });

  it('falls back to the TypeScript when there is no build', () => {
    expect(compiledIsFresh(make({ service: 1000, simulator: 1000 }))).toBe(false);
  });
});
