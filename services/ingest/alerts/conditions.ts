import type { RuleCondition } from '../../common/rules.ts';

/** A threshold as the per-message path tests it: two closures, no allocation per value. */
export interface CompiledCondition {
  /** The value crosses the threshold: an alert starts (or, with `for`, keeps waiting). */
  breach(v: number): boolean;
  /** The value is back by more than the hysteresis: a firing alert resolves. */
  clear(v: number): boolean;
}

/**
 * above/below/outside/inside with hysteresis: an alert starts when the value crosses the threshold and resolves
 * only once it came back by `hysteresis`, so a value wobbling around the threshold does not flap.
 */
export function compileCondition(c: RuleCondition, hysteresis: number): CompiledCondition {
  const h = hysteresis;
  switch (c.op) {
    case 'above': {
      const t = c.value!;
      return { breach: (v) => v > t, clear: (v) => v <= t - h };
    }
    case 'below': {
      const t = c.value!;
      return { breach: (v) => v < t, clear: (v) => v >= t + h };
    }
    case 'outside': {
      const lo = c.low!;
      const hi = c.high!;
      return { breach: (v) => v < lo || v > hi, clear: (v) => v >= lo + h && v <= hi - h };
    }
    case 'inside': {
      const lo = c.low!;
      const hi = c.high!;
      return { breach: (v) => v >= lo && v <= hi, clear: (v) => v < lo - h || v > hi + h };
    }
  }
}
