import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { SusError } from '../common/errors.ts';

/** Who holds a data directory: enough to name the process to an operator and to tell whether it still runs. */
export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  /** ISO time the holding process started. */
  startedAt: string;
  /** Linux: the boot the process runs in, its pid namespace and its start time in clock ticks since boot. */
  bootId?: string;
  pidNamespace?: string;
  startTicks?: number;
}

const LOCK_FILE = 'sus.lock';
/** The holder touches the lock file this often, so a process that cannot look into its pid namespace sees it live. */
const REFRESH_MS = 5_000;
/** A lock file untouched for this long belongs to no running process (its holder would have refreshed it). */
const STALE_AFTER_MS = 30_000;

// Once per process: computed per call, it would differ by the milliseconds between the calls.
const STARTED_AT = new Date(Date.now() - process.uptime() * 1000).toISOString();

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); fields are counted after the `(comm)`. */
function startTicksOf(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function pidNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** This process as a lock holder. */
export function currentProcess(command: string): LockHolder {
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command,
    startedAt: STARTED_AT,
  };
  const bootId = readProc('/proc/sys/kernel/random/boot_id');
  const pidNamespace = pidNamespaceOf('self');
  const startTicks = startTicksOf(process.pid);
  if (bootId) me.bootId = bootId;
  if (pidNamespace) me.pidNamespace = pidNamespace;
  if (startTicks !== undefined) me.startTicks = startTicks;
  return me;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the lock's holder still runs. Where this process can see the holder's pid (same host, boot and pid
 * namespace) that is decided by the pid and its start time (a reused pid is another process); elsewhere (another
 * host sharing the directory, another container) by whether the holder kept refreshing the lock file.
 */
export function holderAlive(holder: LockHolder, me: LockHolder, lockAgeMs: number): boolean {
  if (holder.host === me.host && holder.bootId && me.bootId && holder.bootId !== me.bootId) return false; // rebooted
  const visible =
    holder.host === me.host &&
    holder.bootId === me.bootId &&
    holder.pidNamespace === me.pidNamespace &&
    holder.bootId !== undefined;
  if (!visible) return lockAgeMs < STALE_AFTER_MS;
  // A pid of this namespace that runs, with the start time recorded: that process (this one included).
  if (!processExists(holder.pid)) return false;
  return holder.startTicks === undefined || startTicksOf(holder.pid) === holder.startTicks;
}

const describeHolder = (h: LockHolder) => `pid ${h.pid} on host ${h.host} (${h.command}, started ${h.startedAt})`;

async function readHolder(file: string): Promise<{ holder: LockHolder | undefined; ageMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    let holder: LockHolder | undefined;
    try {
      const parsed = JSON.parse(text) as LockHolder;
      if (Number.isInteger(parsed.pid) && typeof parsed.host === 'string') holder = parsed;
    } catch {
      // Unreadable: judged by its age alone.
    }
    return { holder, ageMs: Date.now() - info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * An exclusive lock on a data directory (its spool and embedded registry) for the life of one process. Node has no
 * flock(2), so the lock is a file created atomically (written aside, then hard-linked into place: it never exists
 * half-written) naming its holder; a lock whose holder no longer runs is taken over (stale-lock detection above).
 */
export class DataDirLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly file: string,
    private readonly me: LockHolder,
  ) {}

  /** Takes the lock or throws SUS_ERR_DATA_DIR_LOCKED naming the process that holds it. */
  static async acquire(dir: string, command: string): Promise<DataDirLock> {
    await mkdir(dir, { recursive: true });
    const file = path.join(path.resolve(dir), LOCK_FILE);
    const me = currentProcess(command);
    const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(mine, `${JSON.stringify(me)}\n`);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(mine, file);
          const lock = new DataDirLock(file, me);
          lock.start();
          return lock;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const found = await readHolder(file);
        if (!found) continue; // released meanwhile
        if (found.holder ? holderAlive(found.holder, me, found.ageMs) : found.ageMs < STALE_AFTER_MS) {
          throw lockedError(dir, file, found.holder);
        }
        await takeOverStale(file, found.holder);
      }
      throw lockedError(dir, file, undefined);
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  /** Removes the lock file if it is still this process's. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const found = await readHolder(this.file).catch(() => undefined);
    if (found?.holder && sameHolder(found.holder, this.me)) await unlink(this.file).catch(() => undefined);
  }

  private start(): void {
    this.timer = setInterval(() => {
      const now = new Date();
      utimes(this.file, now, now).catch(() => undefined);
    }, REFRESH_MS);
    this.timer.unref();
  }
}

const sameHolder = (a: LockHolder, b: LockHolder) =>
  a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt && a.startTicks === b.startTicks;

/**
 * Moves a stale lock aside and deletes it. Atomic against a second process doing the same: whoever renames it first
 * gets it; one that finds a live holder's lock in its hands (the other already replaced the stale one) puts it back.
 */
async function takeOverStale(file: string, stale: LockHolder | undefined): Promise<void> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved?.holder && !(stale && sameHolder(moved.holder, stale))) {
    await link(aside, file).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

function lockedError(dir: string, file: string, holder: LockHolder | undefined): SusError {
  const who = holder ? describeHolder(holder) : 'another process';
  return new SusError(
    'SUS_ERR_DATA_DIR_LOCKED',
    `SUS_DATA_DIR ${path.resolve(dir)} is in use by ${who}; two processes on one data directory would corrupt its ` +
      `spool and embedded registry. Stop that process or give this one its own SUS_DATA_DIR (if no such process runs, delete ${file}).`,
    409,
    { dir: path.resolve(dir), holder },
  );
}
