import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './net.ts';

/**
 * A private redis-server for tests that stop, freeze or fill it (fault tests): its own port and directory, no
 * persistence. The shared Redis (TEST_REDIS_URL) is never touched.
 */
export interface PrivateRedis {
  url: string;
  pid(): number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A command on a connection of its own, closed afterwards. */
  command(...args: string[]): Promise<unknown>;
  destroy(): Promise<void>;
}

/** Why a private server cannot run here (redis-server not installed), or undefined when it can. */
export function privateRedisUnavailable(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'redis-server is not installed (infra/stack.sh installs it with SUS_STACK_REDIS=1: Debian package redis-server)';
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const command = async (...args: string[]) => {
    const conn = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: true });
    conn.on('error', () => undefined); // a refused connect rejects connect() below, which is what callers see
    try {
      await conn.connect();
      return await conn.call(args[0]!, ...args.slice(1));
    } finally {
      conn.disconnect();
    }
  };
  const server: PrivateRedis = {
    url,
    pid: () => child?.pid,
    command,
    async start() {
      const c = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child = c;
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const until = Date.now() + 30_000;
      for (;;) {
        if (c.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
        if (Date.now() > until) throw new Error(`redis-server did not answer on ${url} within 30 s: ${stderr}`);
        if ((await command('PING').catch(() => undefined)) === 'PONG') return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGCONT'); // a frozen server must wake to exit
      c.kill('SIGKILL');
      await exited;
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
