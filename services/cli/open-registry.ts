import type { Config } from '../common/config.ts';
import { openRegistry, type Registry } from '../registry/index.ts';
import { DataDirLock } from './data-dir-lock.ts';

/**
 * `fn` with the registry, for a command that opens it beside the platform (`sus keys`, `sus migrate`). The embedded
 * PGlite is files only one process may open: a second one beside a running platform corrupts them, so it is opened
 * under the data-directory lock (SUS_ERR_DATA_DIR_LOCKED names the holder). PostgreSQL serves many processes: no lock.
 */
export async function withRegistry<T>(
  config: Config,
  command: string,
  fn: (registry: Registry) => Promise<T>,
): Promise<T> {
  const embedded = !config.DATABASE_URL && config.SUS_DATA_DIR !== 'memory://';
  const lock = embedded ? await DataDirLock.acquire(config.SUS_DATA_DIR, command) : undefined;
  try {
    const registry = await openRegistry(config);
    try {
      return await fn(registry);
    } finally {
      await registry.close();
    }
  } finally {
    await lock?.release();
  }
}
