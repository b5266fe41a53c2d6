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
    const dir = new DeviceDirectory(registry, 30_000, 1_000);
    const t0 = Date.now();
    expect(await dir.get('p-2', t0)).toBeUndefined();
    await registry.createDevice({ id: 'p-2', name: 'P2', department: 'parks', type: 'soil' });
    expect(await dir.get('p-2', t0 + 500)).toBeUndefined(); // not started: no events, the miss is cached
    expect((await dir.get('p-2', t0 + 1_001))?.id).toBe('p-2');
  });

  it('answers from the cache without a promise only while the entry is fresh, and not after a registry change', async () => {
    const dir = new DeviceDirectory(registry, 1_000, 1_000);
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
});
