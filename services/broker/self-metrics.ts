import { fieldSet, intValue, type LineSink, pointLine, tagSet } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import { SELF_METRICS } from '../common/self-metrics.ts';
import type { Service } from '../common/service.ts';
import type { BrokerStats } from './broker.ts';

/** One `sus_broker` point: connected clients now, counters as deltas within the interval (see SELF_METRICS). */
export function brokerSelfMetricLine(
  node: string,
  prev: BrokerStats,
  cur: BrokerStats,
  clients: number,
  now: number,
): string {
  const d = (k: keyof BrokerStats) => intValue(Math.max(0, cur[k] - prev[k]));
  const fields = fieldSet({
    clients: intValue(clients),
    connects: d('connects'),
    auth_failures: d('authFailures'),
    acl_denials: d('aclDenials'),
    messages_in: d('messagesIn'),
  });
  return pointLine(SELF_METRICS.broker, tagSet({ node }), fields, now);
}

/** Writes the broker's figures into InfluxDB every interval, for the pipeline-health dashboard. */
export class BrokerSelfMetrics implements Service {
  private timer: NodeJS.Timeout | undefined;
  private prev: BrokerStats | undefined;

  constructor(
    private readonly deps: {
      broker: { readonly stats: BrokerStats; readonly connectedClients: number };
      sink: LineSink;
      node: string;
      intervalMs: number;
      log: Logger;
    },
  ) {}

  async start(): Promise<void> {
    this.prev = { ...this.deps.broker.stats };
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Appends the interval's point (also called by tests instead of waiting for the timer). */
  async tick(now = Date.now()): Promise<string> {
    const { broker, sink, node, log } = this.deps;
    const cur = { ...broker.stats };
    const line = brokerSelfMetricLine(node, this.prev ?? cur, cur, broker.connectedClients, now);
    this.prev = cur;
    await sink.append([line]).catch((err: Error) => log.warn({ err: err.message }, 'broker self-metrics not written'));
    return line;
  }
}
