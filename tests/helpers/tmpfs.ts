import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A small tmpfs of its own, for tests that need a disk that really fills up (ENOSPC). */
export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` on a fresh directory; returns why not (not root, no mount) when it cannot. */
export function mountTmpfs(bytes: number): Tmpfs | string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${why}`;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the file system holding `dir` to the last byte with a file of its own; the function returned frees it. */
export function fillDisk(dir: string): () => void {
  const file = path.join(dir, `filler-${process.pid}-${Date.now()}`);
  const fd = openSync(file, 'w');
  try {
    // Large writes first, then single bytes into the last partly used page.
    for (const size of [64 << 10, 1]) {
      const chunk = Buffer.alloc(size, 0x2a);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => rmSync(file, { force: true });
}

/**
 * Keeps the file system holding `dir` full: fills it now and again every `everyMs` (a program that frees space, such
 * as a spool deleting drained segments, would otherwise find room again at once). The function returned stops
 * refilling and frees everything it wrote.
 */
export function keepFull(dir: string, everyMs = 20): () => void {
  const releases = [fillDisk(dir)];
  const timer = setInterval(() => releases.push(fillDisk(dir)), everyMs);
  return () => {
    clearInterval(timer);
    for (const release of releases.splice(0)) release();
  };
}
