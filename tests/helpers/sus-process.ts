import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InfluxQuery } from '../../services/common/influx.ts';
import { openRegistry, type Registry } from '../../services/registry/index.ts';
import { TEST_ADMIN_KEY, testConfig } from './env.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SUS = path.join(ROOT, 'bin/sus.mjs');

/** A `sus` command running as a child process, as an operator starts it. */
export interface SusProcess {
  child: ChildProcess;
  /** The MQTT port once the platform is up; undefined when the process exited before it was. */
  up: Promise<number | undefined>;
  /** The HTTP port of the API once the platform is up (`sus run`, `sus api`); undefined without one. */
  api: Promise<number | undefined>;
  /** True once the platform is up, whatever it serves (`sus ingest` has no port); false when it exited first. */
  ready: Promise<boolean>;
  /** Exit code (null: ended by a signal). */
  exited: Promise<number | null>;
  /** What the process wrote to stderr so far (the CLI's own error lines go there). */
  stderr(): string;
  /** Its log lines (stdout) so far. */
  log(): string[];
  /** SIGTERM (a clean shutdown) and its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `sus <args>` (bin/sus.mjs) with `env` on top of this process's environment. `maxOpenFiles` runs it under
 * `ulimit -n` (file-descriptor exhaustion tests). Set KEEP=1 to see its log lines.
 */
export function startSus(
  args: string[],
  env: Record<string, string>,
  opts: { maxOpenFiles?: number } = {},
): SusProcess {
  const argv = [process.execPath, SUS, ...args];
  const child =
    opts.maxOpenFiles === undefined
      ? spawn(argv[0]!, argv.slice(1), {
          cwd: ROOT,
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('bash', ['-c', `ulimit -n ${opts.maxOpenFiles} && exec "$@"`, 'sus', ...argv], {
          cwd: ROOT,
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.KEEP) process.stderr.write(d);
  });
  // 'close', not 'exit': by then its output is read to the end.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const log: string[] = [];
  let api: (port: number | undefined) => void = () => {};
  const apiPort = new Promise<number | undefined>((resolve) => {
    api = resolve;
  });
  let isReady: (up: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => {
    isReady = resolve;
  });
  const up = new Promise<number | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.push(line);
      if (process.env.KEEP) console.log(line);
      if (!line.includes('SUS platform up:')) return;
      isReady(true);
      const http = /API http:\/\/localhost:(\d+)/.exec(line);
      api(http ? Number(http[1]) : undefined);
      const m = /MQTT mqtt:\/\/localhost:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => {
      resolve(undefined);
      api(undefined);
      isReady(false);
    });
  });
  return {
    child,
    up,
    api: apiPort,
    ready,
    exited,
    stderr: () => stderr,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Waits until the platform is up; fails with what the process wrote when it exited instead. */
export async function upOrFail(p: SusProcess): Promise<number> {
  const port = await p.up;
  if (port === undefined) throw new Error(`sus exited before it was up (code ${await p.exited}): ${p.stderr()}`);
  return port;
}

/**
 * What a `sus broker` child needs before it starts: a registry (PGlite in `dataDir`, or `databaseUrl`) with the
 * department `environment` and `device` in it, the InfluxDB database, and the environment to start it with.
 */
export async function prepareBroker(opts: {
  dataDir: string;
  databaseUrl?: string;
  device: Omit<Parameters<Registry['createDevice']>[0], 'department' | 'type'>;
}): Promise<{ secret: string; influx: InfluxQuery; env: Record<string, string> }> {
  const base = testConfig({ SUS_DATA_DIR: opts.dataDir, DATABASE_URL: opts.databaseUrl ?? '' });
  const registry = await openRegistry(base);
  await registry.createDepartment({ id: 'environment', name: 'Environment' });
  const { secret } = await registry.createDevice({ department: 'environment', type: 'air_quality', ...opts.device });
  await registry.close();
  const influx = new InfluxQuery(base);
  await influx.ensureDatabase();
  const env = {
    SUS_DATA_DIR: opts.dataDir,
    SUS_MQTT_HOST: '127.0.0.1',
    SUS_MQTT_PORT: '0',
    SUS_ADMIN_KEY: TEST_ADMIN_KEY,
    INFLUX_DB: base.INFLUX_DB,
    DATABASE_URL: opts.databaseUrl ?? '',
    LOG_LEVEL: 'info',
    SUS_LOG_JSON: '1',
  };
  return { secret, influx, env };
}
