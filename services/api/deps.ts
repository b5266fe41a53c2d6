import type { RollupWindow } from '../common/rollups.ts';
import type { AuditLog, ClaimStore, DeviceTypeStore, GrantStore, KeyStore, RollupProgress } from '../registry/index.ts';
import type { ApiContext } from './context.ts';
import { LiveHub } from './live-hub.ts';

/** The context plus short names for the registry's stores the routes use. */
export interface ApiDeps extends ApiContext {
  keys: KeyStore;
  types: DeviceTypeStore;
  claims: ClaimStore;
  grants: GrantStore;
  audit: AuditLog;
  hub: LiveHub | undefined;
  /** Drops cached lookups of a revoked key so the revocation takes effect at once on this replica. */
  forgetKey(id: string): void;
  /** How far the rollups reach (the rollup service's checkpoint), read at most every few seconds. */
  rollupCoverage(): Promise<Partial<Record<RollupWindow, RollupProgress>>>;
}

// The checkpoint moves once an hour: a few seconds old is as good as fresh, and spares a query per aggregate.
const COVERAGE_TTL_MS = 5000;

export function createDeps(ctx: ApiContext, forgetKey: (id: string) => void): ApiDeps {
  const { registry } = ctx;
  let coverage: { at: number; progress: Promise<Partial<Record<RollupWindow, RollupProgress>>> } | undefined;
  return {
    ...ctx,
    keys: registry.keys,
    types: registry.deviceTypes,
    claims: registry.claims,
    grants: registry.grants,
    audit: registry.audit,
    hub: ctx.live ? new LiveHub(ctx.live, ctx.config.SUS_STREAM_REPLAY) : undefined,
    forgetKey,
    rollupCoverage: () => {
      const now = Date.now();
      if (!coverage || now - coverage.at > COVERAGE_TTL_MS) {
        const progress = ctx.registry.rollups.progress();
        coverage = { at: now, progress };
        // A failed read is not kept: the next request asks again.
        progress.catch(() => {
          if (coverage?.progress === progress) coverage = undefined;
        });
      }
      return coverage.progress;
    },
  };
}
