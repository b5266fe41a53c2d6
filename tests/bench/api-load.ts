/**
 * Load generator of bench:api: autocannon, run as its own process (forked with an IPC channel, one case per message)
 * so that its CPU and its garbage collections are not the platform's. It receives every answer whole and counts its
 * bytes, but does not keep the body as text: autocannon appends each chunk of a body to a string, which for the
 * latest case's 2.1 MB answers at ~800 per second made the generator's own GC pauses (tens to hundreds of ms,
 * measured) the tail of the latencies it reported, for SUS and for InfluxDB direct alike.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadCase {
  url: string;
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  /** Keep autocannon's body text (its own behaviour): the methods before 2026-12-02, for comparison. */
  keepBodyText: boolean;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
  /** Bytes received (headers and bodies). */
  bytes: number;
  errors: number;
  non2xx: number;
  count2xx: number;
  count304: number;
  /** The generator's longest GC pause during the case (ms): how much of the tail it may have made itself. */
  gcMaxMs: number;
}

/**
 * autocannon (9.x) collects each body as text in its per-connection request queue; without a body check nothing
 * reads it. Fails loudly if a later autocannon moved that queue, rather than measuring something else silently.
 */
export function dropBodyText(client: unknown): void {
  const queue = (client as { pipelinedRequests?: { addBody?: unknown } }).pipelinedRequests;
  if (typeof queue?.addBody !== 'function')
    throw new Error('autocannon client has no pipelinedRequests.addBody: update tests/bench/api-load.ts');
  queue.addBody = () => undefined;
}

/**
 * One case. `workers` > 0 runs autocannon in that many worker threads of this process, as it is (body text kept:
 * a worker loads its setupClient by require, and that mode stays the earlier method); the GC figure is then only
 * this thread's.
 */
export async function runCase(c: LoadCase, workers = 0): Promise<LoadFigures> {
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const r = await autocannon({
    url: c.url,
    headers: c.headers,
    connections: c.connections,
    duration: c.durationS,
    ...(workers > 0 ? { workers } : c.keepBodyText ? {} : { setupClient: dropBodyText }),
  });
  gc.disconnect();
  return {
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    total: r.requests.total,
    bytes: r.throughput.total,
    errors: r.errors,
    non2xx: r.non2xx,
    count2xx: r['2xx'],
    count304: r.statusCodeStats?.['304']?.count ?? 0,
    gcMaxMs: Math.round(Math.max(0, ...pauses)),
  };
}

// Forked by api.ts: one case per message, the figures sent back.
if (process.send && process.argv[1] === import.meta.filename) {
  process.on('message', (c: LoadCase) => {
    runCase(c).then(
      (f) => process.send?.(f),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
