import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { currentProcess, DataDirLock, type LockHolder } from '../../../services/cli/data-dir-lock.ts';
import { eventually } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';
import { prepareBroker, type SusProcess, startSus, upOrFail } from '../../helpers/sus-process.ts';

const dirs: string[] = [];
const running: SusProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sus-lock-test-'));
  dirs.push(d);
  return d;
};

/** Writes a lock file as another process would have left it. */
const plantLock = (dir: string, holder: LockHolder, ageMs = 0) => {
  const file = path.join(dir, 'sus.lock');
  writeFileSync(file, JSON.stringify(holder));
  const at = new Date(Date.now() - ageMs);
  utimesSync(file, at, at);
};

/** A pid no process has: beyond the kernel's pid_max. */
const deadPid = () => Number(execFileSync('cat', ['/proc/sys/kernel/pid_max']).toString()) + 1;

describe('data directory lock', () => {
  it('refuses a second holder with SUS_ERR_DATA_DIR_LOCKED naming the first, and lets the next one in after release', async () => {
    const dir = freshDir();
    const first = await DataDirLock.acquire(dir, 'sus broker');
    const me = currentProcess('sus broker');
    await expect(DataDirLock.acquire(dir, 'sus run')).rejects.toMatchObject({
      code: 'SUS_ERR_DATA_DIR_LOCKED',
      message: `SUS_DATA_DIR ${dir} is in use by pid ${process.pid} on host ${hostname()} (sus broker, started ${me.startedAt}); two processes on one data directory would corrupt its spool and embedded registry. Stop that process or give this one its own SUS_DATA_DIR (if no such process runs, delete ${dir}/sus.lock).`,
    });
    await first.release();
    expect(existsSync(path.join(dir, 'sus.lock'))).toBe(false);
    const second = await DataDirLock.acquire(dir, 'sus run');
    await second.release();
    expect(readdirSync(dir)).toStrictEqual([]);
  });

  it('takes over the lock of a process that no longer runs', async () => {
    const dir = freshDir();
    plantLock(dir, { ...currentProcess('sus broker'), pid: deadPid() });
    const lock = await DataDirLock.acquire(dir, 'sus broker');
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (its start time differs)', async () => {
    const dir = freshDir();
    // The parent process runs, but it is not the process that wrote this lock.
    plantLock(dir, { ...currentProcess('sus broker'), pid: process.ppid, startTicks: 1 });
    const lock = await DataDirLock.acquire(dir, 'sus broker');
    await lock.release();
  });

  it('takes over the lock of a boot before this one', async () => {
    const dir = freshDir();
    plantLock(dir, { ...currentProcess('sus broker'), bootId: 'another-boot' });
    const lock = await DataDirLock.acquire(dir, 'sus broker');
    await lock.release();
  });

  it('counts a lock from another host or pid namespace as held while it is refreshed, and stale after 30 s', async () => {
    const dir = freshDir();
    const elsewhere = { ...currentProcess('sus run'), host: 'node-b', pid: 7 };
    plantLock(dir, elsewhere, 2_000);
    await expect(DataDirLock.acquire(dir, 'sus run')).rejects.toMatchObject({ code: 'SUS_ERR_DATA_DIR_LOCKED' });
    plantLock(dir, { ...currentProcess('sus run'), pidNamespace: 'pid:[1]', pid: 1 }, 2_000);
    await expect(DataDirLock.acquire(dir, 'sus run')).rejects.toMatchObject({ code: 'SUS_ERR_DATA_DIR_LOCKED' });
    plantLock(dir, elsewhere, 40_000);
    const lock = await DataDirLock.acquire(dir, 'sus run');
    await lock.release();
  });
});

describe('two `sus broker` processes on one SUS_DATA_DIR', () => {
  it('the second exits 1 naming the first, and the first keeps its spool intact and working', async () => {
    const dataDir = freshDir();
    // The registry in PostgreSQL (a schema of its own) where there is one, which starts faster than the embedded one;
    // the lock guards the data directory whichever registry is used.
    const schema = await freshSchema();
    const {
      secret,
      influx,
      env: basics,
    } = await prepareBroker({
      dataDir,
      databaseUrl: schema?.url,
      device: { id: 'aq-lock-1', name: 'lock test' },
    });
    const env = { ...basics, SUS_WRITE_FLUSH_MS: '50', SUS_SELF_METRICS_INTERVAL_S: '3600' };
    const first = startSus(['broker'], env);
    running.push(first);
    const port = await upOrFail(first);
    const t0 = Date.now() - 3_600_000;
    // One connection throughout: no presence line is spooled while the second process tries its luck.
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: 'aq-lock-1',
      username: 'aq-lock-1',
      password: secret,
      reconnectPeriod: 0,
    });
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const payload = JSON.stringify({ time: t0 + i, values: { pm10: i } });
        await client.publishAsync('sus/v1/devices/aq-lock-1/up', payload, { qos: 1 });
      }
    };
    const stored = async () => {
      const [series = []] = await influx.query(`SELECT count("value") FROM "pm10" WHERE "device" = 'aq-lock-1'`);
      return Number(series[0]?.values[0]?.[1] ?? 0);
    };
    await publish(0, 50);
    await eventually(stored, (n) => n === 50);
    const spool = path.join(dataDir, 'spool');
    const lockFile = path.join(dataDir, 'sus.lock');
    const snapshot = () => [
      existsSync(lockFile) ? readFileSync(lockFile, 'utf8') : 'no lock file',
      ...readdirSync(spool)
        .filter((f) => f.endsWith('.seg'))
        .sort()
        .map((f) => `${f} ${statSync(path.join(spool, f)).size}`),
    ];
    const before = snapshot();

    const second = startSus(['broker'], env);
    running.push(second);
    expect(await second.up).toBeUndefined();
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(
      `sus: SUS_DATA_DIR ${dataDir} is in use by pid ${first.child.pid} on host ${hostname()} (sus broker, started `,
    );
    // Not a byte of the first's segments or lock changed.
    expect(snapshot()).toStrictEqual(before);

    await publish(50, 100);
    await eventually(stored, (n) => n === 100);
    await client.endAsync();
    expect(await first.stop()).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
    await schema?.drop();
  }, 60_000);
});
