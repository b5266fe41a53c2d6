import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/common/config.ts';
import { DeviceDirectory } from '../../../services/ingest/device-directory.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';

/** Enrichment cache against the real registry (PGlite in memory). */
let registry: Registry;
beforeAll(async () => {
  registry = await openRegistry(loadConfig({ SUS_DATA_DIR: 'memory://' }));
  await registry.createDepartment({ id: 'parks', name: 'Parks' });
  await registry.createDepartment({ id: 'waste', name: 'Waste' });
});
afterAll(async () => registry?.close());

describe('DeviceDirectory', () => {
  it('refreshes on registry change: a device registered or retyped after a lookup is seen at once', async () => {
    const dir = new DeviceDirectory(registry);
    dir.start();
    expect(await dir.get('p-1')).toBeUndefined();
    await registry.createDevice({ id: 'p-1', name: 'P1', department: 'parks', type: 'soil' });
    expect((await dir.get('p-1'))?.department).toBe('parks');
    await registry.updateDevice('p-1', { type: 'soil_v2', district: 'Nord' });
    expect([(await dir.get('p-1'))?.type, (await dir.get('p-1'))?.district]).toStrictEqual(['soil_v2', 'Nord']);
    dir.stop();
  });

  it('keeps a miss only for missTtlMs when the change happens elsewhere (no event)', async () => {
    const dir = new DeviceDirectory(registry, { ttlMs: 30_000, missTtlMs: 1_000 });
    const t0 = Date.now();
    expect(await dir.get('p-2', t0)).toBeUndefined();
    await registry.createDevice({ id: 'p-2', name: 'P2', department: 'parks', type: 'soil' });
    expect(await dir.get('p-2', t0 + 500)).toBeUndefined(); // not started: no events, the miss is cached
    expect((await dir.get('p-2', t0 + 1_001))?.id).toBe('p-2');
  });

  it('answers from the cache without a promise only while the entry is fresh, and not after a registry change', async () => {
    const dir = new DeviceDirectory(registry, { ttlMs: 1_000, missTtlMs: 1_000 });
    dir.start();
    await registry.createDevice({ id: 'p-3', name: 'P3', department: 'waste', type: 'bin' });
    const t0 = Date.now();
    expect(dir.cached('p-3', t0)).toBeUndefined(); // never looked up
    const device = await dir.get('p-3', t0);
    expect(dir.cached('p-3', t0 + 999)).toStrictEqual({ device, expires: t0 + 1_000 });
    expect(dir.cached('p-3', t0 + 1_000)).toBeUndefined(); // expired: ask the registry again
    await dir.get('p-3', t0);
    await registry.updateDevice('p-3', { district: 'Süd' });
    expect(dir.cached('p-3', t0)).toBeUndefined();
    dir.stop();
  });

  it('holds at most a tenth of maxEntries unknown ids, however many distinct ones arrive, and keeps known devices', async () => {
    const dir = new DeviceDirectory(registry, { maxEntries: 50 });
    dir.start();
    for (let i = 0; i < 20; i++) {
      await registry.createDevice({ id: `bound-${i}`, name: 'b', department: 'parks', type: 'soil' });
      expect((await dir.get(`bound-${i}`))?.id).toBe(`bound-${i}`);
    }
    for (let i = 0; i < 2000; i++) expect(await dir.get(`ghost-${i}`)).toBeUndefined();
    expect(dir.size).toStrictEqual({ devices: 20, unknown: 5 });
    // The last unknown ids are the ones remembered; the known devices were not pushed out.
    expect(dir.cached('ghost-1999')).toStrictEqual({ device: undefined, expires: expect.any(Number) });
    expect(dir.cached('ghost-0')).toBeUndefined();
    expect(dir.cached('bound-0')?.device?.id).toBe('bound-0');
    dir.stop();
  });

  it('drops the least recently loaded device when maxEntries devices are cached', async () => {
    const dir = new DeviceDirectory(registry, { maxEntries: 10 });
    for (let i = 0; i < 15; i++) {
      await registry.createDevice({ id: `lru-${i}`, name: 'l', department: 'waste', type: 'bin' });
      await dir.get(`lru-${i}`);
    }
    expect(dir.size).toStrictEqual({ devices: 10, unknown: 0 });
    expect(dir.cached('lru-4')).toBeUndefined();
    expect(dir.cached('lru-5')?.device?.id).toBe('lru-5');
    // A device learned to be registered leaves the unknown cache at once.
    expect(await dir.get('late-1')).toBeUndefined();
    await registry.createDevice({ id: 'late-1', name: 'l', department: 'waste', type: 'bin' });
    expect((await dir.get('late-1', Date.now() + 5_000))?.id).toBe('late-1');
    expect(dir.size).toStrictEqual({ devices: 10, unknown: 0 });
  });
});
