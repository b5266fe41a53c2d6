/** A small seeded PRNG (mulberry32): the same seed gives the same fuzz cases on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A child generator: cases built from it do not shift when another part draws more or fewer numbers. */
  fork(salt: number): Rng {
    return new Rng((this.state ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }
}

/** FUZZ_SEED and FUZZ_ROUNDS: a fixed seed and one round in CI; a longer local run sets them. */
export function fuzzSettings(defaultSeed: number): { seed: number; rounds: number } {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : defaultSeed;
  const rounds = process.env.FUZZ_ROUNDS ? Number(process.env.FUZZ_ROUNDS) : 1;
  if (!Number.isInteger(seed) || !Number.isInteger(rounds) || rounds < 1)
    throw new Error(`FUZZ_SEED must be an integer and FUZZ_ROUNDS a positive integer (got ${seed}, ${rounds})`);
  return { seed, rounds };
}
