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

/**
 * Registry lookups for enrichment, cached: every message needs its device's department, district and type, and a
 * database round trip per message would cap ingest far below the broker's rate. Entries drop on registry change
 * events (same process: registering, updating, decommissioning a device) and expire after `ttlMs` (changes made by
 * another process, e.g. `sus api` beside `sus broker`); unknown ids expire after `missTtlMs`.
 */
export class DeviceDirectory implements DeviceLookup {
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Device | undefined>>();
  private readonly onChange = (e: RegistryEvent) => {
    this.cache.delete(e.id);
  };

  constructor(
    private readonly registry: Registry,
    private readonly ttlMs = 30_000,
    /** "Not registered" is kept briefly only: a device registered by another process must get in soon. */
    private readonly missTtlMs = 2_000,
  ) {}

  start(): void {
    this.registry.on('change', this.onChange);
  }

  stop(): void {
    this.registry.off('change', this.onChange);
    this.cache.clear();
  }

  /** The cached answer while it is fresh, without a promise: the per-message path asks this first. */
  cached(id: string, now = Date.now()): { device: Device | undefined } | undefined {
    const hit = this.cache.get(id);
    return hit && hit.expires > now ? hit : undefined;
  }

  async get(id: string, now = Date.now()): Promise<Device | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.expires > now) return hit.device;
    // One lookup per device however many of its messages arrive meanwhile: a burst (a device's backlog, a
    // reconnecting fleet) would otherwise send one registry query per message.
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.registry.getDevice(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    const device = await pending;
    this.cache.set(id, { device, expires: now + (device ? this.ttlMs : this.missTtlMs) });
    return device;
  }
}
