import type { AuditLog, ClaimStore, DeviceTypeStore, GrantStore, KeyStore } from '../registry/index.ts';
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
}

export function createDeps(ctx: ApiContext, forgetKey: (id: string) => void): ApiDeps {
  const { registry } = ctx;
  return {
    ...ctx,
    keys: registry.keys,
    types: registry.deviceTypes,
    claims: registry.claims,
    grants: registry.grants,
    audit: registry.audit,
    hub: ctx.live ? new LiveHub(ctx.live, ctx.config.SUS_STREAM_REPLAY) : undefined,
    forgetKey,
  };
}
