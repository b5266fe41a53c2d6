import type { Device, Registry, RegistryEvent } from '../registry/index.ts';

interface Entry {
  device: Device | undefined;
  expires: number;
}

/**
 * Registry lookups for enrichment, cached: every message needs its device's department, district and type, and a
 * database round trip per message would cap ingest far below the broker's rate. Entries drop on registry change
 * events (same process) and expire after `ttlMs` (changes made by another process).
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, Entry>();
  private readonly onChange = (e: RegistryEvent) => {
    this.cache.delete(e.id);
  };

  constructor(
    private readonly registry: Registry,
    private readonly ttlMs = 30_000,
  ) {}

  start(): void {
    this.registry.on('change', this.onChange);
  }

  stop(): void {
    this.registry.off('change', this.onChange);
    this.cache.clear();
  }

  async get(id: string, now = Date.now()): Promise<Device | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.expires > now) return hit.device;
    const device = await this.registry.getDevice(id);
    this.cache.set(id, { device, expires: now + this.ttlMs });
    return device;
  }
}
