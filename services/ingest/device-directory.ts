import { DEVICE_ID_PATTERN } from '../common/topics.ts';
import type { Device, Registry, RegistryEvent } from '../registry/index.ts';

interface Entry {
  device: Device | undefined;
  expires: number;
}

/** What ingest asks of the directory. */
export interface DeviceLookup {
  get(id: string): Promise<Device | undefined>;
  /** A fresh cached answer without a promise; undefined means "ask `get`". */
  cached(id: string): { device: Device | undefined } | undefined;
  start(): void;
  stop(): void;
}

export interface DirectoryOptions {
  ttlMs?: number;
  /** "Not registered" is kept briefly only: a device registered by another process must get in soon. */
  missTtlMs?: number;
  /** Registered devices kept (SUS_DEVICE_CACHE_MAX); unknown ids get a tenth of it. */
  maxEntries?: number;
}

/** A Map in insertion order used as a bounded cache: a full one drops its oldest entry. */
function remember(map: Map<string, Entry>, id: string, entry: Entry, max: number): void {
  // Re-inserting moves the id to the young end.
  map.delete(id);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(id, entry);
}

/**
 * Registry lookups for enrichment, cached: every message needs its device's department, district and type, and a
 * database round trip per message would cap ingest far below the broker's rate. Entries drop on registry change
 * events (same process: registering, updating, decommissioning a device) and expire after `ttlMs` (changes made by
 * another process, e.g. `sus api` beside `sus broker`); unknown ids expire after `missTtlMs`.
 *
 * Both caches are bounded: known devices by `maxEntries`, unknown ids — which anyone can make up, one per message —
 * by a tenth of it, in a cache of their own so they cannot push the fleet's devices out.
 */
export class DeviceDirectory implements DeviceLookup {
  private readonly hits = new Map<string, Entry>();
  private readonly misses = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Device | undefined>>();
  private readonly ttlMs: number;
  private readonly missTtlMs: number;
  private readonly maxHits: number;
  private readonly maxMisses: number;
  private readonly onChange = (e: RegistryEvent) => {
    if (e.type !== 'device-changed') return;
    this.hits.delete(e.id);
    this.misses.delete(e.id);
  };

  constructor(
    private readonly registry: Registry,
    options: DirectoryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.missTtlMs = options.missTtlMs ?? 2_000;
    this.maxHits = options.maxEntries ?? 100_000;
    this.maxMisses = Math.max(1, Math.floor(this.maxHits / 10));
  }

  /** Entries held now (known devices, unknown ids). */
  get size(): { devices: number; unknown: number } {
    return { devices: this.hits.size, unknown: this.misses.size };
  }

  start(): void {
    this.registry.on('change', this.onChange);
  }

  stop(): void {
    this.registry.off('change', this.onChange);
    this.hits.clear();
    this.misses.clear();
  }

  /** The cached answer while it is fresh, without a promise: the per-message path asks this first. */
  cached(id: string, now = Date.now()): { device: Device | undefined } | undefined {
    const hit = this.hits.get(id) ?? this.misses.get(id);
    return hit && hit.expires > now ? hit : undefined;
  }

  async get(id: string, now = Date.now()): Promise<Device | undefined> {
    // A payload may name any string (TTN device_id); one outside the id grammar is never registered, and asking the
    // registry would fail on a NUL rather than answer "unknown".
    if (!DEVICE_ID_PATTERN.test(id)) return undefined;
    const hit = this.cached(id, now);
    if (hit) return hit.device;
    // One lookup per device however many of its messages arrive meanwhile: a burst (a device's backlog, a
    // reconnecting fleet) would otherwise send one registry query per message.
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.registry.getDevice(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    const device = await pending;
    if (device) {
      this.misses.delete(id);
      remember(this.hits, id, { device, expires: now + this.ttlMs }, this.maxHits);
    } else {
      this.hits.delete(id);
      remember(this.misses, id, { device, expires: now + this.missTtlMs }, this.maxMisses);
    }
    return device;
  }
}
