import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { Logger } from './logger.ts';
import type { Service } from './service.ts';

/** V8's `gc` of `node --expose-gc` (bin/sus.mjs passes it). */
type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** What one check sees: how busy the event loop was since the last check, and the heap's committed bytes. */
export interface MemorySample {
  /** Event-loop utilisation over the interval, 0–1. */
  utilization: number;
  heapTotal: number;
}

export interface MemoryReducerOptions {
  /** Between checks; a reduction needs two quiet checks in a row. */
  intervalMs: number;
  /** Event-loop utilisation below which an interval counts as quiet. */
  quietBelow?: number;
  /** Growth of the committed heap since the last collection (or the start) worth one. */
  slackBytes?: number;
}

const DEFAULT_QUIET_BELOW = 0.2;
/**
 * Collections per growth before giving up. V8 shrinks the young generation only once it has seen the allocation rate
 * low for a while: after a 10,000-device storm the 1st–3rd collection often left it whole and the 4th shrank the
 * heap 312 → 185 MB (measured; with 3 tries the node kept ~400 MB RSS). Later tries find little garbage (3–18 ms).
 */
const MAX_TRIES = 12;
/** Below one semi-space pair at bin/sus.mjs's 64 MB: a young generation grown by a burst is always worth it. */
const DEFAULT_SLACK_BYTES = 48 * 1024 * 1024;

/**
 * Whether to collect now: the committed heap grew well beyond its size after the last collection (a burst grew the
 * young generation or the old space; heapUsed would not say so, it counts the garbage not yet collected) and the
 * node has been quiet for the last two checks, so the collection costs no one latency and a busy young generation
 * is not shrunk only to regrow.
 */
export function shouldReduce(
  previous: MemorySample | undefined,
  current: MemorySample,
  baselineHeapTotal: number,
  opts: Pick<MemoryReducerOptions, 'quietBelow' | 'slackBytes'> = {},
): boolean {
  const quietBelow = opts.quietBelow ?? DEFAULT_QUIET_BELOW;
  if (!previous || previous.utilization >= quietBelow || current.utilization >= quietBelow) return false;
  return current.heapTotal - baselineHeapTotal >= (opts.slackBytes ?? DEFAULT_SLACK_BYTES);
}

/**
 * Gives memory back once a burst is over: node 20's V8 keeps a young generation grown to its maximum (2 × 64 MB
 * with bin/sus.mjs's flag) and the old space a connect storm grew for good — V8's own memory reducer never ran in
 * a node (measured) — so a `sus broker` node that took 10,000 connects held ~400 MB RSS long after they settled.
 * One memory-reducing collection (V8's last-resort flavour: full, and the young generation shrunk; a plain full
 * collection shrinks it only when V8 happens to see the allocation rate low) on a quiet node brings it to
 * ~195 MB (issue 17), pausing the loop ~13 ms at 10,000 connections. Once per growth of the heap by `slackBytes`
 * (on quiet checks until the heap shrinks, up to MAX_TRIES).
 * Without `--expose-gc` (node run without bin/sus.mjs's flags) there is no `gc` and this does nothing.
 */
export class MemoryReducer implements Service {
  private timer: NodeJS.Timeout | undefined;
  private elu: EventLoopUtilization | undefined;
  private previous: MemorySample | undefined;
  /** The committed heap after the last collection that shrank it (or gave up), or at the start. */
  private baseline = 0;
  /** Collections since the heap last shrank. */
  private attempts = 0;
  /** Collections run so far (for tests and the log). */
  reductions = 0;

  constructor(
    private readonly options: MemoryReducerOptions,
    private readonly log: Logger,
    private readonly gc: ExposedGc | undefined = (globalThis as { gc?: ExposedGc }).gc,
    private readonly heapTotal: () => number = () => process.memoryUsage().heapTotal,
  ) {}

  async start(): Promise<void> {
    if (!this.gc) {
      this.log.debug('memory reducer off: node runs without --expose-gc');
      return;
    }
    this.elu = performance.eventLoopUtilization();
    this.baseline = this.heapTotal();
    this.timer = setInterval(() => this.check(), this.options.intervalMs);
    // A check never keeps the process alive.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    const heapTotal = this.heapTotal();
    const current = { utilization: elu.utilization, heapTotal };
    const reduce = shouldReduce(this.previous, current, this.baseline, this.options);
    this.previous = current;
    // A heap that shrank by itself is the new baseline: growth is counted from the smallest size seen.
    this.baseline = Math.min(this.baseline, heapTotal);
    if (!reduce || !this.gc) return;
    const started = performance.now();
    this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.reductions++;
    const afterTotal = this.heapTotal();
    // A collection soon after the burst may free the old space's garbage but leave the young generation grown: the
    // next quiet check tries again (MAX_TRIES).
    this.attempts++;
    const shrank = heapTotal - afterTotal >= (this.options.slackBytes ?? DEFAULT_SLACK_BYTES) / 2;
    const tries = this.attempts;
    if (shrank || this.attempts >= MAX_TRIES) {
      this.baseline = afterTotal;
      this.attempts = 0;
    }
    this.log.debug(
      {
        pauseMs: Math.round(performance.now() - started),
        heapTotalMb: Math.round(heapTotal / 1048576),
        heapTotalAfterMb: Math.round(afterTotal / 1048576),
        attempt: tries,
      },
      'memory reduced after a burst',
    );
    // The collection itself is not load: the next check starts from a quiet interval.
    this.elu = performance.eventLoopUtilization();
  }
}
