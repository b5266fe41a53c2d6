import path from 'node:path';
import { nodeFs, type SpoolFs } from '../../services/ingest/spool/segment-files.ts';

/** An fs error as node:fs raises it (`code`, `syscall`), for faults a test cannot cause for real. */
export function fsError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${syscall} '${file}'`), { code, syscall, path: file });
}

type Op = 'open:r' | 'open:w' | 'writeFile' | 'rename' | 'unlink' | 'readdir' | 'readFile' | 'truncate' | 'mkdir';

interface Fault {
  op: Op;
  /** Matched against the file's base name. */
  file: RegExp;
  code: string;
  left: number;
}

/**
 * The spool's file system with faults injected into chosen calls (EMFILE on opening a new segment, EIO on saving
 * the position, …); every other call goes to the real node:fs. `hits` lists the calls that failed, so a test can
 * prove its fault happened.
 */
export function faultyFs(): {
  fs: SpoolFs;
  fail(op: Op, file: RegExp, code: string, times?: number): void;
  clear(): void;
  hits: string[];
} {
  const faults: Fault[] = [];
  const hits: string[] = [];
  const check = (op: Op, file: string) => {
    const f = faults.find((x) => x.op === op && x.left > 0 && x.file.test(path.basename(file)));
    if (!f) return;
    f.left--;
    hits.push(`${op} ${path.basename(file)} ${f.code}`);
    throw fsError(f.code, op, file);
  };
  const fs: SpoolFs = {
    open: async (file, flags) => {
      check(`open:${flags}`, file);
      return nodeFs.open(file, flags);
    },
    mkdir: async (dir) => {
      check('mkdir', dir);
      return nodeFs.mkdir(dir);
    },
    readdir: async (dir) => {
      check('readdir', dir);
      return nodeFs.readdir(dir);
    },
    readFile: async (file) => {
      check('readFile', file);
      return nodeFs.readFile(file);
    },
    writeFile: async (file, data) => {
      check('writeFile', file);
      return nodeFs.writeFile(file, data);
    },
    rename: async (from, to) => {
      check('rename', from);
      return nodeFs.rename(from, to);
    },
    unlink: async (file) => {
      check('unlink', file);
      return nodeFs.unlink(file);
    },
    truncate: async (file, length) => {
      check('truncate', file);
      return nodeFs.truncate(file, length);
    },
  };
  return {
    fs,
    fail: (op, file, code, times = Number.POSITIVE_INFINITY) => {
      faults.push({ op, file, code, left: times });
    },
    clear: () => {
      faults.length = 0;
    },
    hits,
  };
}
