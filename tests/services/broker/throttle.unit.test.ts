import { describe, expect, it } from 'vitest';
import { FailedAttemptThrottle } from '../../../services/broker/throttle.ts';

const options = { freeFailures: 2, maxFailures: 6, baseDelayMs: 100, maxDelayMs: 350, windowMs: 60_000 };

function throttle() {
  let now = 1_000_000;
  const t = new FailedAttemptThrottle(options, () => now);
  return { t, advance: (ms: number) => (now += ms) };
}

describe('FailedAttemptThrottle', () => {
  it('answers the free failures at once, then doubles the delay per failure up to the cap', () => {
    const { t } = throttle();
    const delays = [];
    for (let i = 0; i < 6; i++) {
      delays.push(t.delayMs('10.0.0.1'));
      t.recordFailure('10.0.0.1');
    }
    expect(delays).toStrictEqual([0, 0, 100, 200, 350, 350]);
  });

  it('blocks the address from maxFailures on and only that address', () => {
    const { t } = throttle();
    for (let i = 0; i < 5; i++) t.recordFailure('10.0.0.1');
    expect(t.blocked('10.0.0.1')).toBe(false);
    t.recordFailure('10.0.0.1');
    expect([t.blocked('10.0.0.1'), t.blocked('10.0.0.2')]).toStrictEqual([true, false]);
  });

  it('forgets an address once the window after its last failure has passed', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 6; i++) t.recordFailure('10.0.0.1');
    advance(59_999);
    expect(t.blocked('10.0.0.1')).toBe(true);
    advance(1);
    expect([t.blocked('10.0.0.1'), t.delayMs('10.0.0.1'), t.size]).toStrictEqual([false, 0, 0]);
  });

  it('restarts the window with every failure, so a slow guesser stays blocked', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 6; i++) {
      advance(50_000);
      t.recordFailure('10.0.0.1');
    }
    expect(t.blocked('10.0.0.1')).toBe(true);
  });
});
