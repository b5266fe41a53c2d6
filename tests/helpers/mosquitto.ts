import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort } from './net.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Debian's mosquitto on a free port of 127.0.0.1, with its own password file, ACL and settings. */
export interface Mosquitto {
  port: number;
  pid: number;
  child: ChildProcess;
  /** What mosquitto wrote to stderr (its log) so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Installs mosquitto when missing (infra/install-mosquitto.sh); throws with the reason when it cannot. */
export function ensureMosquitto(): void {
  execFileSync('bash', [path.join(ROOT, 'infra/install-mosquitto.sh')], { stdio: 'inherit' });
}

/** Why mosquitto cannot run here, or undefined when it can (installed now when missing and possible). */
export function mosquittoUnavailable(): string | undefined {
  try {
    ensureMosquitto();
    return undefined;
  } catch (err) {
    return `Debian's mosquitto is not installed and could not be (${(err as Error).message.split('\n')[0]})`;
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startMosquitto(opts: {
  /** user name → password; none: anonymous clients are allowed. */
  users?: Record<string, string>;
  /** mosquitto ACL file lines (`pattern write …`, `user …`, `topic …`). */
  acl?: string[];
  /** Further mosquitto.conf lines. */
  settings?: string[];
}): Promise<Mosquitto> {
  ensureMosquitto();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sus-mosquitto-'));
  const port = await freePort();
  const conf = [`listener ${port} 127.0.0.1`, 'persistence false', 'log_type error', 'max_connections -1'];
  if (opts.users) {
    const passwd = path.join(dir, 'passwd');
    writeFileSync(
      passwd,
      Object.entries(opts.users)
        .map(([u, p]) => `${u}:${p}\n`)
        .join(''),
    );
    execFileSync('mosquitto_passwd', ['-U', passwd]);
    conf.push('allow_anonymous false', `password_file ${passwd}`);
  } else conf.push('allow_anonymous true');
  if (opts.acl) {
    writeFileSync(path.join(dir, 'acl'), `${opts.acl.join('\n')}\n`);
    conf.push(`acl_file ${path.join(dir, 'acl')}`);
  }
  // As root mosquitto would drop to the `mosquitto` user, which cannot read this temp dir.
  if (process.getuid?.() === 0) conf.push('user root');
  conf.push(...(opts.settings ?? []));
  const file = path.join(dir, 'mosquitto.conf');
  writeFileSync(file, `${conf.join('\n')}\n`);
  const child = spawn('mosquitto', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  for (let i = 0; i < 100 && !(await canConnect(port)); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await canConnect(port))) {
    await stopChild(child);
    throw new Error(`mosquitto did not start on port ${port}: ${log}`);
  }
  return {
    port,
    pid: child.pid!,
    child,
    log: () => log,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
