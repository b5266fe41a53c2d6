import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';
import { adminQuery, withSearchPath } from './pg.ts';

/**
 * A schema of its own on the shared test PostgreSQL (TEST_DATABASE_URL): a registry there never sees another test
 * file's rows. `drop()` removes it with everything in it. Undefined when TEST_DATABASE_URL is unset (npm test sets
 * it): the caller then uses the embedded registry, or skips.
 */
export async function freshSchema(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return undefined;
  const schema = `sus_test_${randomBytes(4).toString('hex')}`;
  await adminQuery(base, `CREATE SCHEMA ${schema}`);
  return { url: withSearchPath(base, schema), drop: () => adminQuery(base, `DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

/**
 * A private PostgreSQL server for tests that stop, freeze or restart it (fault tests): its own cluster in a temp
 * directory on a free port, run as the `postgres` OS user (PostgreSQL refuses root) the way infra/stack.sh runs
 * the shared one, which is never touched.
 */
export interface PrivatePostgres {
  url: string;
  /** Server processes (postmaster and its children), for SIGSTOP/SIGCONT. */
  pids(): number[];
  start(): Promise<void>;
  /** A fast shutdown: open connections are closed, the server is gone until start(). */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  const v = versions.at(-1);
  return v === undefined ? undefined : path.join(root, v, 'bin');
}

const asUser = (user: string | undefined, cmd: string, args: string[]) =>
  user === undefined
    ? execFileSync(cmd, args, { stdio: 'pipe', cwd: '/' })
    : execFileSync('runuser', ['-u', user, '--', cmd, ...args], { stdio: 'pipe', cwd: '/' });

/** Why a private PostgreSQL cannot run here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (!pgBin()) return 'PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)';
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
    } catch {
      return 'running as root without a `postgres` OS user to run the server as';
    }
  }
  return undefined;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBin();
  if (!bin) throw new Error(privatePostgresUnavailable());
  const user = process.getuid?.() === 0 ? 'postgres' : undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  if (user) {
    const uid = Number(execFileSync('id', ['-u', user]).toString());
    const gid = Number(execFileSync('id', ['-g', user]).toString());
    chownSync(dir, uid, gid);
    writeFileSync(log, '');
    chownSync(log, uid, gid);
  }
  const port = await freePort();
  asUser(user, path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'sus',
    '--auth=trust',
    '--encoding=UTF8',
    '--no-locale',
    '--no-sync',
  ]);
  // A throwaway test server: no fsync, TCP on 127.0.0.1 only, the unix socket inside its own directory.
  asUser(user, 'sh', [
    '-c',
    `printf "%s\\n" "listen_addresses = '127.0.0.1'" "port = ${port}" "unix_socket_directories = '${dir}'" "fsync = off" "synchronous_commit = off" "full_page_writes = off" >> ${data}/postgresql.conf`,
  ]);
  const pgCtl = (...args: string[]) => asUser(user, path.join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const server: PrivatePostgres = {
    url: `postgres://sus@127.0.0.1:${port}/postgres`,
    pids() {
      const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      let children: number[] = [];
      try {
        children = execFileSync('pgrep', ['-P', String(postmaster)])
          .toString()
          .trim()
          .split('\n')
          .map(Number);
      } catch {
        // no children yet
      }
      return [postmaster, ...children];
    },
    async start() {
      pgCtl('start', '-w', '-t', '60', '-l', log);
    },
    async stop() {
      pgCtl('stop', '-m', 'fast', '-w', '-t', '60');
    },
    async destroy() {
      try {
        pgCtl('stop', '-m', 'immediate', '-w', '-t', '60');
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
