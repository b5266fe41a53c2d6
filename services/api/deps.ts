import { AuditLog, ClaimStore, DeviceTypeStore, GrantStore, KeyStore } from '../registry/index.ts';
import type { ApiContext } from './context.ts';
import { LiveHub } from './live-hub.ts';

/** The context plus the registry's API-side stores, built once per API instance. */
export interface ApiDeps extends ApiContext {
  keys: KeyStore;
  types: DeviceTypeStore;
  claims: ClaimStore;
  grants: GrantStore;
  audit: AuditLog;
  hub: LiveHub | undefined;
  /** Drops cached lookups of a revoked key so the revocation takes effect at once on this replica. */
  forgetKey(id: string): void;
}

export function createDeps(ctx: ApiContext, forgetKey: (id: string) => void): ApiDeps {
  const db = ctx.registry.db;
  return {
    ...ctx,
    keys: new KeyStore(db),
    types: new DeviceTypeStore(db),
    claims: new ClaimStore(db),
    grants: new GrantStore(db),
    audit: new AuditLog(db),
    hub: ctx.live ? new LiveHub(ctx.live, ctx.config.SUS_STREAM_REPLAY) : undefined,
    forgetKey,
  };
}
