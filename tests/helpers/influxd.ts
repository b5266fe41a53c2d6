import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';

const TEMPLATE = path.join(import.meta.dirname, '../../infra/influxdb.conf.template');

/**
 * A private InfluxDB 1.x server for tests that must stop and restart it (outage tests): own ports, own data
 * directory under a temp dir, configured like infra/stack.sh does. The shared server on 8086 is never touched.
 */
export interface PrivateInfluxd {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its data. */
  destroy(): Promise<void>;
}

/** Why the private server cannot run here (influxd not installed), or undefined when it can. */
export function influxdUnavailable(): string | undefined {
  try {
    execFileSync('influxd', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'influxd is not installed (infra/stack.sh installs it: Debian package influxdb)';
  }
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.status === 204;
  } catch {
    return false;
  }
}

export interface PrivateInfluxdOptions {
  /** How often InfluxDB enforces retention policies (its default: 30m); retention tests shorten it. */
  retentionCheckInterval?: string;
}

export async function startPrivateInfluxd(opts: PrivateInfluxdOptions = {}): Promise<PrivateInfluxd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-influxd-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  for (const d of ['meta', 'data', 'wal']) mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'influxdb.conf');
  // The template infra/stack.sh fills for the shared server, so a private server is configured the same way.
  const fill: Record<string, string> = {
    '@DIR@': dir,
    '@RPC_PORT@': String(rpcPort),
    '@HTTP_PORT@': String(httpPort),
    '@RETENTION_CHECK_INTERVAL@': opts.retentionCheckInterval ?? '30m',
    '@LOG_LEVEL@': 'error',
  };
  writeFileSync(
    conf,
    readFileSync(TEMPLATE, 'utf8').replace(/@[A-Z_]+@/g, (k) => {
      const v = fill[k];
      if (v === undefined) throw new Error(`${TEMPLATE}: no value for ${k}`);
      return v;
    }),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  let stderr = '';

  const server: PrivateInfluxd = {
    url,
    async start() {
      if (child) return;
      const c = spawn('influxd', ['-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      child = c;
      const until = Date.now() + 30_000;
      while (!(await ping(url))) {
        if (c.exitCode !== null) throw new Error(`influxd exited: ${stderr}`);
        if (Date.now() > until) throw new Error(`influxd did not answer on ${url} within 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
