import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FailedAttemptThrottle } from './throttle.ts';

// INCR with the window restarted by every failure (as the local counts do); returns both counts.
const RECORD = `
local pair = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local address = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {pair, address}`;

export interface FailureCountsPair {
  pair: number;
  address: number;
}

/**
 * The login throttle's failure counts in Redis, shared by every broker node: each key expires with the window, so
 * Redis holds no more than the failures of the last window. The local throttle takes the higher of its own and
 * these counts before it decides; a Redis that does not answer leaves the local counts to decide alone.
 */
export class SharedFailureCounts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly windowMs: number,
  ) {}

  private keys(address: string, username: string | undefined): [string, string] {
    // Hashed: a username from the wire may be long and hold any byte.
    const pair = createHash('sha256').update(FailedAttemptThrottle.pair(address, username)).digest('base64url');
    return [`${this.prefix}login:pair:${pair}`, `${this.prefix}login:addr:${address}`];
  }

  async fetch(address: string, username: string | undefined): Promise<FailureCountsPair> {
    const [pair, addr] = await this.redis.mget(...this.keys(address, username));
    return { pair: Number(pair ?? 0), address: Number(addr ?? 0) };
  }

  async record(address: string, username: string | undefined): Promise<FailureCountsPair> {
    const [pair, address_] = (await this.redis.eval(
      RECORD,
      2,
      ...this.keys(address, username),
      String(this.windowMs),
    )) as [number, number];
    return { pair, address: address_ };
  }
}
