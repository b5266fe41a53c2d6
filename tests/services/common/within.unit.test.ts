import { afterEach, describe, expect, it, vi } from 'vitest';
import { within } from '../../../services/common/within.ts';

describe('within(work, ms, timeout)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers with the work's value or its error when it settles in time, and leaves no timer behind", async () => {
    vi.useFakeTimers();
    await expect(within(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('refused')), 1000, () => new Error('late'))).rejects.toThrow(
      'refused',
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the timeout error once ms have passed on work that never settles', async () => {
    vi.useFakeTimers();
    const pending = within(new Promise<never>(() => undefined), 1000, () => new Error('no answer within 1000 ms'));
    const outcome = pending.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe('no answer within 1000 ms');
    expect(vi.getTimerCount()).toBe(0);
  });
});
