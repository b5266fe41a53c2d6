import type { Config } from '../common/config.ts';
import { openDb } from './db.ts';
import type { DeadLetterBounds } from './dead-letters.ts';
import { migrate } from './migrate.ts';
import { Registry } from './registry.ts';

export {
  ALERT_STATES,
  type Alert,
  type AlertFilter,
  type AlertHistoryEntry,
  type AlertState,
  AlertStore,
  type AlertTransition,
  type Delivery,
  type OutgoingDelivery,
  type Silence,
  type TransitionResult,
} from './alerts.ts';
export { type AuditEntry, AuditLog } from './audit.ts';
export { type ChangeChannel, relayChanges } from './change-relay.ts';
export { type Claim, ClaimStore, type NewClaim } from './claims.ts';
export { type Db, openDb, registryRefusal } from './db.ts';
export {
  boundReasons,
  DEAD_LETTER_STATUSES,
  type DeadLetterBounds,
  type DeadLetterStatus,
  DeadLetterStore,
  type IngestDeadLetterEntry,
  type IngestDeadLetterFilter,
  type NewIngestDeadLetter,
  REASONS_OMITTED,
  type ReplayableDeadLetter,
} from './dead-letters.ts';
export { type DeviceType, DeviceTypeStore, type NewDeviceType } from './device-types.ts';
export {
  type Command,
  CommandSchema,
  type DesiredConfig,
  DesiredConfigSchema,
  type DeviceAck,
  DownlinkStore,
} from './downlinks.ts';
export {
  type CatalogueRow,
  type EntityAccess,
  EntityQueries,
  type EntityQuery,
  type EntityRow,
  type EntityRows,
  type SqlContext,
} from './entity-query.ts';
export {
  type Grant,
  type GrantMismatch,
  type GrantSlice,
  GrantStore,
  grantCovers,
  grantMismatch,
  type NewGrant,
  PUBLIC_GRANTEE,
} from './grants.ts';
export {
  type HousekeepingResult,
  RegistryHousekeeping,
  type RetentionSettings,
  retentionSettings,
} from './housekeeping.ts';
export { KeyStore, type NewApiKey } from './keys.ts';
export { rebuildLatest } from './latest-rebuild.ts';
export { type LatestSelection, type LatestValue, LatestValueStore, newestPerSeries } from './latest-values.ts';
export { migrate } from './migrate.ts';
export type { DeviceLogin, RegistryEvent } from './registry.ts';
export { Registry } from './registry.ts';
export { type DirtyMark, type DirtyRow, type RollupProgress, RollupStore } from './rollups.ts';
export { newRuleId, RuleStore } from './rules.ts';
export { hashToken, newToken, verifyToken } from './secrets.ts';
export {
  type ConsoleSession,
  ConsoleSessionStore,
  type NewConsoleSession,
  type PendingSignIn,
  type SessionBounds,
} from './sessions.ts';
export * from './types.ts';

/** Opens the configured store (PostgreSQL or embedded PGlite), brings its schema up to date. */
export async function openRegistry(
  config: Pick<Config, 'DATABASE_URL' | 'SUS_DATA_DIR' | 'SUS_DEAD_LETTER_RAW_BYTES'> &
    Partial<
      Pick<
        Config,
        | 'SUS_DEAD_LETTER_MAX_REASONS'
        | 'SUS_REGISTRY_TIMEOUT_MS'
        | 'SUS_REGISTRY_MAX_WAITING'
        | 'SUS_REGISTRY_IDLE_TIMEOUT_MS'
        | 'SUS_RULES_MAX_PER_DEPARTMENT'
        | 'SUS_SESSION_MAX'
        | 'SUS_SESSION_MAX_PER_PERSON'
      >
    >,
): Promise<Registry> {
  const db = await openDb({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.SUS_DATA_DIR,
    bounds: {
      timeoutMs: config.SUS_REGISTRY_TIMEOUT_MS,
      maxWaiting: config.SUS_REGISTRY_MAX_WAITING,
      idleMs: config.SUS_REGISTRY_IDLE_TIMEOUT_MS,
    },
  });
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const bounds: Partial<DeadLetterBounds> = { rawBytes: config.SUS_DEAD_LETTER_RAW_BYTES };
  if (config.SUS_DEAD_LETTER_MAX_REASONS !== undefined) bounds.maxReasons = config.SUS_DEAD_LETTER_MAX_REASONS;
  return new Registry(db, bounds, {
    rulesPerDepartment: config.SUS_RULES_MAX_PER_DEPARTMENT,
    sessions: {
      perPerson: config.SUS_SESSION_MAX_PER_PERSON ?? 20,
      total: config.SUS_SESSION_MAX ?? 10_000,
    },
  });
}
