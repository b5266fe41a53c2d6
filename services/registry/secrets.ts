import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets and API keys are 192-bit random tokens, not passwords people choose: a single SHA-256 is enough
 * (no dictionary to grind against) and cheap enough for a reconnect storm of thousands of devices, where a
 * deliberately slow hash (bcrypt, scrypt) would stall the broker for minutes.
 */
export function newToken(prefix = ''): string {
  return prefix + randomBytes(24).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented token with a stored hash. */
export function verifyToken(token: string | Buffer, storedHash: string): boolean {
  const presented = createHash('sha256').update(token).digest();
  if (!/^[0-9a-f]{64}$/i.test(storedHash)) return false;
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
