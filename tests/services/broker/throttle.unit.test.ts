import { describe, expect, it } from 'vitest';
import { FailedAttemptThrottle, type ThrottleOptions } from '../../../services/broker/throttle.ts';

const options: ThrottleOptions = {
  freeFailures: 2,
  maxFailures: 6,
  addressFreeFailures: 8,
  baseDelayMs: 100,
  maxDelayMs: 350,
  windowMs: 60_000,
  maxEntries: 1000,
};

function throttle(overrides: Partial<ThrottleOptions> = {}) {
  let now = 1_000_000;
  const t = new FailedAttemptThrottle({ ...options, ...overrides }, () => now);
  return { t, advance: (ms: number) => (now += ms) };
}

const NAT = '10.0.0.1';

describe('FailedAttemptThrottle', () => {
  it('answers the free failures of a username at once, then doubles the delay per failure up to the cap', () => {
    const { t } = throttle();
    const delays = [];
    for (let i = 0; i < 6; i++) {
      delays.push(t.delayMs(NAT, 'dev-1'));
      t.recordFailure(NAT, 'dev-1');
    }
    expect(delays).toStrictEqual([0, 0, 100, 200, 350, 350]);
  });

  it('locks the (address, username) pair from maxFailures on, never the address or the username elsewhere', () => {
    const { t } = throttle();
    for (let i = 0; i < 5; i++) t.recordFailure(NAT, 'dev-1');
    expect(t.blocked(NAT, 'dev-1')).toBe(false);
    t.recordFailure(NAT, 'dev-1');
    // A neighbour behind the same carrier NAT, and the same device from elsewhere, still get their credentials checked.
    expect([t.blocked(NAT, 'dev-1'), t.blocked(NAT, 'dev-2'), t.blocked('10.0.0.2', 'dev-1')]).toStrictEqual([
      true,
      false,
      false,
    ]);
    // The address has 6 failures, under its 8 free ones: the neighbour is answered at once.
    expect(t.delayMs(NAT, 'dev-2')).toBe(0);
  });

  it('slows every login from an address that sprays many usernames, without locking any of them out', () => {
    const { t } = throttle();
    for (let i = 0; i < 10; i++) t.recordFailure(NAT, `guess-${i}`);
    // 10 failures, 8 free: 100 × 2² = 400 ms, capped at 350, for any username, one that never failed included.
    expect([t.delayMs(NAT, 'dev-2'), t.blocked(NAT, 'dev-2'), t.delayMs('10.0.0.2', 'dev-2')]).toStrictEqual([
      350,
      false,
      0,
    ]);
  });

  it('lets only addressFreeFailures logins of one address wait at once, and forgets the address when none waits', () => {
    const { t } = throttle({ addressFreeFailures: 3 });
    const taken = [1, 2, 3, 4].map(() => t.startWaiting(NAT));
    expect([taken, t.startWaiting('10.0.0.2')]).toStrictEqual([[true, true, true, false], true]);
    t.stopWaiting(NAT);
    expect(t.startWaiting(NAT)).toBe(true);
    for (let i = 0; i < 3; i++) t.stopWaiting(NAT);
    t.stopWaiting('10.0.0.2');
    expect(t.size.waiting).toBe(0);
  });

  it('forgets a pair and an address once the window after their last failure has passed', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 10; i++) t.recordFailure(NAT, 'dev-1');
    advance(59_999);
    expect([t.blocked(NAT, 'dev-1'), t.delayMs(NAT, 'dev-9') > 0]).toStrictEqual([true, true]);
    advance(1);
    expect([t.blocked(NAT, 'dev-1'), t.delayMs(NAT, 'dev-1'), t.delayMs(NAT, 'dev-9')]).toStrictEqual([false, 0, 0]);
  });

  it('restarts the window with every failure, so a slow guesser stays blocked', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 6; i++) {
      advance(50_000);
      t.recordFailure(NAT, 'dev-1');
    }
    expect(t.blocked(NAT, 'dev-1')).toBe(true);
  });

  it('keeps at most maxEntries pairs and addresses, the most recently failing ones', () => {
    const { t } = throttle({ maxEntries: 100 });
    for (let i = 0; i < 5000; i++) t.recordFailure(`10.1.${i >> 8}.${i & 255}`, `user-${i}`);
    for (let i = 0; i < 6; i++) t.recordFailure(NAT, 'dev-1');
    const { pairs, addresses } = t.size;
    expect([pairs <= 100, addresses <= 100, t.blocked(NAT, 'dev-1')]).toStrictEqual([true, true, true]);
  });
});
