import { OutboundPolicy } from '../common/outbound-address.ts';
import { DAY_MS, type RollupWindow, windowStart } from '../common/rollups.ts';
import type {
  AuditLog,
  ClaimStore,
  Device,
  DeviceTypeStore,
  GrantStore,
  KeyStore,
  RollupProgress,
} from '../registry/index.ts';
import type { RollupCoverage } from './aggregate-plan.ts';
import { AnswerCache } from './answer-cache.ts';
import type { ApiContext } from './context.ts';
import { LiveHub } from './live-hub.ts';
import { DailyRollupCache } from './rollup-cache.ts';

/** The context plus short names for the registry's stores the routes use. */
export interface ApiDeps extends ApiContext {
  keys: KeyStore;
  types: DeviceTypeStore;
  claims: ClaimStore;
  grants: GrantStore;
  audit: AuditLog;
  hub: LiveHub | undefined;
  /** Which addresses a webhook URL may name (SUS_WEBHOOK_ALLOW_NETWORKS); names are checked again at connect time. */
  outbound: OutboundPolicy;
  /** Drops cached lookups of a revoked key so the revocation takes effect at once on this replica. */
  forgetKey(id: string): void;
  /**
   * What the rollups answer for `quantity`: how far they reach (the rollup service's checkpoint, read at most every
   * few seconds) and its stale hours (read on every call: a late reading must not be hidden by an old rollup).
   */
  rollupCoverage(quantity: string): Promise<RollupCoverage & { generation: string }>;
  /** Daily rollup points read before, while their quantity's generation holds (rollup-cache.ts). */
  dailyRollups: DailyRollupCache;
  /** Finished aggregate answers of the daily rollups, while their generation and plan hold (routes/aggregate.ts). */
  aggregateAnswers: AnswerCache;
  /**
   * A department's devices (every department's: undefined) for what depends on their place and kind only — id,
   * department, type, district, location: remembered while the latest-value store's version holds, which a trigger
   * moves on every insert, delete and change of those columns (migration 007). Spares aggregates a registry read
   * of every device of the department per request.
   */
  placedDevices(owner: string | undefined): Promise<Device[]>;
}

// The checkpoint moves once an hour: a few seconds old is as good as fresh, and spares a query per aggregate.
const COVERAGE_TTL_MS = 5000;
// Each API node's aggregate answers: a year of daily means is ~18 KB of JSON, grouped by 50 devices ~1 MB.
const AGGREGATE_ANSWER_BOUNDS = { entries: 256, bytes: 32 * 1024 * 1024 };
// Departments whose device lists are remembered (least recently used go first).
const MAX_PLACED = 64;
// Stale hours a plan works around one by one; past them, everything from the next stale hour on is read raw (a
// bound on the plan's size after a large backfill, until the rollup service has caught up).
const MAX_STALE_HOURS = 1000;

/** `progress` with no rollup reaching past `until`. */
function reachingUntil(
  progress: Partial<Record<RollupWindow, RollupProgress>>,
  until: number,
): Partial<Record<RollupWindow, RollupProgress>> {
  const clipped: Partial<Record<RollupWindow, RollupProgress>> = {};
  for (const [w, p] of Object.entries(progress) as Array<[RollupWindow, RollupProgress]>) {
    const limit = w === '1d' ? windowStart(until, DAY_MS) : until;
    clipped[w] = { coveredFrom: p.coveredFrom, doneUntil: Math.min(p.doneUntil, limit) };
  }
  return clipped;
}

export function createDeps(ctx: ApiContext, forgetKey: (id: string) => void): ApiDeps {
  const { registry } = ctx;
  let coverage: { at: number; progress: Promise<Partial<Record<RollupWindow, RollupProgress>>> } | undefined;
  const placed = new Map<string, { version: string; devices: Promise<Device[]> }>();
  return {
    ...ctx,
    keys: registry.keys,
    types: registry.deviceTypes,
    claims: registry.claims,
    grants: registry.grants,
    audit: registry.audit,
    hub: ctx.live ? new LiveHub(ctx.live, ctx.config.SUS_STREAM_REPLAY, ctx.liveIdsShared) : undefined,
    outbound: new OutboundPolicy(ctx.config.SUS_WEBHOOK_ALLOW_NETWORKS),
    forgetKey,
    rollupCoverage: async (quantity) => {
      const [progress, { staleHours: stale, generation }] = await Promise.all([
        readProgress(),
        registry.rollups.staleness(quantity, MAX_STALE_HOURS + 1),
      ]);
      if (stale.length <= MAX_STALE_HOURS) return { progress, staleHours: stale, generation };
      return {
        progress: reachingUntil(progress, stale[MAX_STALE_HOURS]!),
        staleHours: stale.slice(0, -1),
        generation,
      };
    },
    dailyRollups: new DailyRollupCache(ctx.influx),
    aggregateAnswers: new AnswerCache(AGGREGATE_ANSWER_BOUNDS),
    placedDevices: async (owner) => {
      const version = await registry.latest.version();
      const key = owner ?? '';
      let hit = placed.get(key);
      if (!hit || hit.version !== version) {
        const devices = registry.listDevices({ department: owner });
        hit = { version, devices };
        placed.delete(key);
        placed.set(key, hit);
        if (placed.size > MAX_PLACED) placed.delete(placed.keys().next().value!);
        // A failed read is not kept: the next request asks again.
        const entry = hit;
        devices.catch(() => {
          if (placed.get(key) === entry) placed.delete(key);
        });
      }
      return hit.devices;
    },
  };

  function readProgress(): Promise<Partial<Record<RollupWindow, RollupProgress>>> {
    const now = Date.now();
    if (!coverage || now - coverage.at > COVERAGE_TTL_MS) {
      const progress = registry.rollups.progress();
      coverage = { at: now, progress };
      // A failed read is not kept: the next request asks again.
      progress.catch(() => {
        if (coverage?.progress === progress) coverage = undefined;
      });
    }
    return coverage.progress;
  }
}
