/**
 * `work`, or a rejection with `timeout()` once `ms` have passed: a dependency that hangs (a frozen database, a
 * network black hole) must not hold a login, a request or an acknowledgement for longer than its bound. `work`
 * itself goes on; only the caller stops waiting for it.
 */
export function within<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
