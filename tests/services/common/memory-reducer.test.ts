import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../services/common/logger.ts';
import { MemoryReducer, type MemorySample, shouldReduce } from '../../../services/common/memory-reducer.ts';
import { eventually } from '../../helpers/env.ts';

const MB = 1024 * 1024;
const FIXTURE = path.join(import.meta.dirname, 'fixtures/memory-burst.ts');

/** The fixture in a node of its own with `flags`, its JSON line parsed. */
function burst(flags: string[]): Promise<{ kept: number; reductions: number; before: number; after: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', FIXTURE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`exit ${code}: ${out}`)),
    );
  });
}

describe('the memory reducer gives a burst heap back once the node is quiet', () => {
  it('collects after a burst in a node with --expose-gc, as bin/sus.mjs runs: the young generation grown to 2 × 64 MB shrinks', async () => {
    const r = await burst(['--max-semi-space-size=64', '--expose-gc']);
    expect(r.kept).toBe(20_000);
    expect(r.before - r.after).toBeGreaterThan(48 * MB);
    expect([1, 2, 3]).toContain(r.reductions);
  }, 30_000);

  it('does nothing in a node without --expose-gc', async () => {
    const r = await burst(['--max-semi-space-size=64']);
    expect(r.reductions).toBe(0);
    expect(r.before - r.after).toBeLessThan(48 * MB);
  }, 30_000);

  /** A reducer checking every 10 ms, its heap `heap.total`; each collection is numbered into `collections`. */
  async function watched(heap: { total: number }, onCollect: (n: number) => void = () => {}) {
    const collections: number[] = [];
    const reducer = new MemoryReducer(
      { intervalMs: 10 },
      silentLogger,
      () => {
        collections.push(collections.length + 1);
        onCollect(collections.length);
      },
      () => heap.total,
    );
    await reducer.start();
    return { reducer, collections };
  }
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps collecting on quiet checks until the heap shrinks: V8 often gives the young generation back only at the 4th', async () => {
    const heap = { total: 120 * MB };
    const { reducer, collections } = await watched(heap, (n) => {
      if (n === 4) heap.total = 185 * MB;
    });
    await settle(100);
    expect(collections).toStrictEqual([]);
    // A storm grew the heap to 312 MB; collections 1–3 leave it so, the 4th shrinks it to 185 MB.
    heap.total = 312 * MB;
    await eventually(
      async () => collections.length,
      (n) => n >= 4,
    );
    await settle(200);
    await reducer.stop();
    expect(collections).toStrictEqual([1, 2, 3, 4]);
  });

  it('gives up after 12 collections that shrink nothing, until the heap grows again', async () => {
    const heap = { total: 120 * MB };
    const { reducer, collections } = await watched(heap);
    heap.total = 312 * MB;
    await eventually(
      async () => collections.length,
      (n) => n >= 12,
    );
    await settle(200);
    expect(collections.length).toBe(12);
    heap.total = 380 * MB;
    await eventually(
      async () => collections.length,
      (n) => n > 12,
    );
    await reducer.stop();
  });

  const quiet: MemorySample = { utilization: 0.05, heapTotal: 300 * MB };
  it('collects only after two quiet checks in a row with the heap grown by 48 MB since the last collection', () => {
    expect(shouldReduce(quiet, quiet, 120 * MB)).toBe(true);
    expect(shouldReduce(undefined, quiet, 120 * MB)).toBe(false);
    expect(shouldReduce({ ...quiet, utilization: 0.6 }, quiet, 120 * MB)).toBe(false);
    expect(shouldReduce(quiet, { ...quiet, utilization: 0.6 }, 120 * MB)).toBe(false);
    expect(shouldReduce(quiet, quiet, 260 * MB)).toBe(false);
  });
});
