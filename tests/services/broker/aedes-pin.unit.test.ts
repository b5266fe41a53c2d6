import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const json = (file: string) => JSON.parse(readFileSync(new URL(file, root), 'utf8')) as Record<string, unknown>;

describe('the Aedes version the broker patches', () => {
  it('is pinned exactly in package.json and is the version in the lock file and node_modules', () => {
    const wanted = (json('package.json').dependencies as Record<string, string>).aedes;
    const locked = (json('package-lock.json').packages as Record<string, { version: string }>)['node_modules/aedes'];
    const installed = json('node_modules/aedes/package.json').version;
    // A range (^1.2.0) would let a fresh install pick up a release whose internals the broker's patches do not fit.
    expect(wanted).toMatch(/^\d+\.\d+\.\d+$/);
    expect([locked?.version, installed]).toStrictEqual([wanted, wanted]);
  });
});
