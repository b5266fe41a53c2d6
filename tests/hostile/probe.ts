import { Worker } from 'node:worker_threads';

/** What the probe saw: one entry per health request, and the platform process's resident memory over time. */
export interface ProbeReport {
  /** Latency of each health request in ms, in order. */
  healthMs: number[];
  /** When each health request was sent (Date.now(): the one clock this thread and the worker share). */
  sentAt: number[];
  /** Health answers other than 200 (or a failed request), with when they were asked (Date.now()). */
  unhealthy: Array<{ at: number; status: number | string }>;
  /** VmRSS of the platform process in bytes, one sample per health request. */
  rssBytes: number[];
  /** CPU time (user + system) the platform process used until each sample, in ms. */
  cpuMs: number[];
}

// Plain JavaScript for a worker thread of its own: the attacks keep this test's event loop busy, and a health
// latency measured there would count the test's own stalls as the platform's.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { url, pid, everyMs } = workerData;
const report = { healthMs: [], sentAt: [], unhealthy: [], rssBytes: [], cpuMs: [] };
let stopping = false;
parentPort.once('message', () => { stopping = true; });
const rss = () => {
  try {
    const m = /VmRSS:\\s+(\\d+) kB/.exec(readFileSync('/proc/' + pid + '/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
};
// utime and stime, fields 14 and 15 of /proc/<pid>/stat (after the command name in parentheses), in clock ticks.
const cpu = () => {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch { return 0; }
};
(async () => {
  while (!stopping) {
    const t0 = performance.now();
    const sent = Date.now();
    let status;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
      await res.arrayBuffer();
      status = res.status;
    } catch (err) {
      status = String(err && err.name);
    }
    const ms = performance.now() - t0;
    report.healthMs.push(ms);
    report.sentAt.push(sent);
    report.rssBytes.push(rss());
    report.cpuMs.push(cpu());
    if (status !== 200) report.unhealthy.push({ at: sent, status });
    await new Promise((r) => setTimeout(r, Math.max(0, everyMs - ms)));
  }
  parentPort.postMessage(report);
})();
`;

/**
 * Asks `healthUrl` every `everyMs` (the next request once the last one is answered, so a stall shows as one long
 * latency, not a pile of requests) and samples the resident memory of process `pid` alongside, from a worker thread.
 */
export function startProbe(healthUrl: string, pid: number, everyMs = 100): { stop(): Promise<ProbeReport> } {
  const worker = new Worker(PROBE, { eval: true, workerData: { url: healthUrl, pid, everyMs } });
  const report = new Promise<ProbeReport>((resolve, reject) => {
    worker.once('message', (r: ProbeReport) => resolve(r));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const r = await report;
      await worker.terminate();
      return r;
    },
  };
}

/** The value below which `share` of the samples lie (nearest rank). */
export function percentile(samples: readonly number[], share: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
}
