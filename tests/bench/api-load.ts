/**
 * Load generator of bench:api: autocannon, run as its own process (forked with an IPC channel, one case per message)
 * so that its CPU and its garbage collections are not the platform's. It receives every answer whole and counts its
 * bytes, but does not keep the body as text: autocannon appends each chunk of a body to a string, which for the
 * latest case's 2.1 MB answers at ~800 per second made the generator's own GC pauses (tens to hundreds of ms,
 * measured) the tail of the latencies it reported, for SUS and for InfluxDB direct alike.
 */
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadCase {
  url: string;
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  /** Keep autocannon's body text (its own behaviour, BENCH_LOAD_BODY=text): the methods before 2026-12-02. */
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
  /**
   * The generator's longest GC pause during the case (ms): how much of the tail it may have made itself. Absent for
   * wrk (C, no garbage collector).
   */
  gcMaxMs?: number;
}

const setupClient = new URL('./api-load-client.cjs', import.meta.url).pathname;
/** Drops autocannon's body text of one client (api-load-client.cjs: worker threads load it by path). */
export const dropBodyText = createRequire(import.meta.url)(setupClient) as (client: unknown) => void;

/** One case. `workers` > 0 runs autocannon in that many worker threads of this process (GC figure: this thread's). */
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
    ...(workers > 0 ? { workers } : {}),
    // A worker thread loads it by path, this thread takes the function.
    ...(c.keepBodyText
      ? {}
      : workers > 0
        ? { setupClient: setupClient as unknown as typeof dropBodyText }
        : { setupClient: dropBodyText }),
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
