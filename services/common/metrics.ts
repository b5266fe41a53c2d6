import { collectDefaultMetrics, Registry as PromRegistry } from 'prom-client';

/**
 * One Prometheus registry per platform process: every layer registers its counters here and the API serves them as
 * text on `/metrics`. Created per process (not a module global) so tests can run several platforms side by side.
 */
export function createMetricsRegistry(withDefaults = true): PromRegistry {
  const registry = new PromRegistry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'sus_' });
  return registry;
}

export type { Registry as MetricsRegistry } from 'prom-client';
