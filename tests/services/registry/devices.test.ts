import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DEVICE_ID_PATTERN } from '../../../services/common/topics.ts';
import type { Db, Device, Registry, RegistryEvent } from '../../../services/registry/index.ts';
import { BACKENDS, expectPlausibleIso, expectSusError, sha256Hex, unavailable, useRegistry } from './backends.ts';

describe.each(BACKENDS)('registry devices on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    beforeEach(() => {
      ({ db, registry } = under);
    });

    describe('devices', () => {
      beforeEach(async () => {
        await registry.ensureDepartment({ id: 'env', name: 'Environment' });
        await registry.ensureDepartment({ id: 'water', name: 'Water' });
      });

      const storedHash = async (id: string): Promise<string | undefined> =>
        (await db.query<{ secret_hash: string }>('SELECT secret_hash FROM devices WHERE id = $1', [id]))[0]
          ?.secret_hash;

      it('createDevice returns the device and a secret of at least 128 bits', async () => {
        const { device, secret } = await registry.createDevice({
          id: 'aq-001',
          name: 'Air quality, Main St',
          department: 'env',
          type: 'air_quality',
          district: 'centre',
          lat: 52.52,
          lon: 13.405,
        });
        expectPlausibleIso(device.createdAt);
        expect(device).toStrictEqual({
          id: 'aq-001',
          name: 'Air quality, Main St',
          department: 'env',
          type: 'air_quality',
          district: 'centre',
          lat: 52.52,
          lon: 13.405,
          createdAt: device.createdAt,
          lastSeenAt: null,
        } satisfies Device);
        expect(secret).toMatch(/^[A-Za-z0-9_-]{22,}$/);
        expect(Buffer.from(secret, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
        expect(await registry.getDevice('aq-001')).toStrictEqual(device);
      });

      it('optional fields default to null', async () => {
        const { device } = await registry.createDevice({
          id: 'wl-1',
          name: 'Gauge',
          department: 'water',
          type: 'gauge',
        });
        expect(device).toStrictEqual({
          id: 'wl-1',
          name: 'Gauge',
          department: 'water',
          type: 'gauge',
          district: null,
          lat: null,
          lon: null,
          createdAt: device.createdAt,
          lastSeenAt: null,
        });
      });

      it('two devices get different secrets', async () => {
        const a = await registry.createDevice({ id: 'a', name: 'A', department: 'env', type: 'aq' });
        const b = await registry.createDevice({ id: 'b', name: 'B', department: 'env', type: 'aq' });
        expect(a.secret).not.toBe(b.secret);
      });

      it('stores only the sha256 hash of the secret, never the secret', async () => {
        const { secret } = await registry.createDevice({ id: 'aq-2', name: 'AQ', department: 'env', type: 'aq' });
        const hash = await storedHash('aq-2');
        expect(hash).not.toBe(secret);
        expect(hash).toBe(sha256Hex(secret));
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        const [row] = await db.query<Record<string, unknown>>('SELECT * FROM devices WHERE id = $1', ['aq-2']);
        expect(JSON.stringify(row)).not.toContain(secret);
      });

      it('an unknown department is a 400 SUS_ERR_UNKNOWN_DEPARTMENT and creates nothing', async () => {
        const err = await expectSusError(
          () => registry.createDevice({ id: 'x1', name: 'X', department: 'nope', type: 'aq' }),
          'SUS_ERR_UNKNOWN_DEPARTMENT',
          400,
        );
        expect(err.context).toStrictEqual({ field: 'department' });
        expect(await registry.getDevice('x1')).toBeUndefined();
      });

      it('a duplicate device id is a 409 SUS_ERR_DEVICE_EXISTS and keeps the original secret', async () => {
        const first = await registry.createDevice({ id: 'dup', name: 'First', department: 'env', type: 'aq' });
        const err = await expectSusError(
          () => registry.createDevice({ id: 'dup', name: 'Second', department: 'water', type: 'gauge' }),
          'SUS_ERR_DEVICE_EXISTS',
          409,
        );
        expect(err.context).toStrictEqual({ device: 'dup' });
        expect(await registry.getDevice('dup')).toStrictEqual(first.device);
        expect(await registry.authenticateDevice('dup', first.secret)).toStrictEqual(first.device);
      });

      it('generates a valid, type-derived id when none is given', async () => {
        const a = await registry.createDevice({ name: 'Auto', department: 'env', type: 'air_quality' });
        const b = await registry.createDevice({ name: 'Auto', department: 'env', type: 'air_quality' });
        expect(a.device.id).toMatch(/^air-quality-[0-9a-f]{8}$/);
        expect(a.device.id).toMatch(DEVICE_ID_PATTERN);
        expect(b.device.id).not.toBe(a.device.id);
        expect(await registry.getDevice(a.device.id)).toStrictEqual(a.device);
      });

      it('getDevice returns undefined for an unknown id', async () => {
        expect(await registry.getDevice('ghost')).toBeUndefined();
      });

      it('listDevices lists all devices ordered by id, or those of one department', async () => {
        expect(await registry.listDevices()).toStrictEqual([]);
        const c = (await registry.createDevice({ id: 'c', name: 'C', department: 'env', type: 'aq' })).device;
        const a = (await registry.createDevice({ id: 'a', name: 'A', department: 'water', type: 'gauge' })).device;
        const b = (await registry.createDevice({ id: 'b', name: 'B', department: 'env', type: 'aq' })).device;
        expect(await registry.listDevices()).toStrictEqual([a, b, c]);
        expect(await registry.listDevices({})).toStrictEqual([a, b, c]);
        expect(await registry.listDevices({ department: 'env' })).toStrictEqual([b, c]);
        expect(await registry.listDevices({ department: 'water' })).toStrictEqual([a]);
        expect(await registry.listDevices({ department: 'nope' })).toStrictEqual([]);
        expect(await registry.deviceIdsOf('env').then((ids) => ids.sort())).toStrictEqual(['b', 'c']);
      });

      it('authenticateDevice: right secret → device; wrong secret, unknown device, the hash itself → undefined', async () => {
        const { device, secret } = await registry.createDevice({
          id: 'auth',
          name: 'A',
          department: 'env',
          type: 'aq',
        });
        expect(await registry.authenticateDevice('auth', secret)).toStrictEqual(device);
        expect(await registry.authenticateDevice('auth', `${secret}x`)).toBeUndefined();
        expect(await registry.authenticateDevice('auth', '')).toBeUndefined();
        expect(await registry.authenticateDevice('auth', sha256Hex(secret))).toBeUndefined();
        expect(await registry.authenticateDevice('ghost', secret)).toBeUndefined();
      });

      it('concurrent authenticateDevice calls (a reconnect storm) share one query and each gets its own answer', async () => {
        const created = await registry.createDevices(
          Array.from({ length: 40 }, (_, i) => ({ id: `storm-${i}`, name: `S${i}`, department: 'env', type: 'aq' })),
        );
        const query = vi.spyOn(db, 'query');
        try {
          const answers = await Promise.all([
            ...created.map((c) => registry.authenticateDevice(c.device.id, Buffer.from(c.secret))),
            registry.authenticateDevice('storm-0', 'wrong'),
            registry.authenticateDevice('storm-1', created[1]!.secret),
            registry.authenticateDevice('ghost', created[2]!.secret),
          ]);
          expect(answers).toStrictEqual([...created.map((c) => c.device), undefined, created[1]!.device, undefined]);
          expect(query).toHaveBeenCalledTimes(1);
        } finally {
          query.mockRestore();
        }
      });

      it('desired configurations read on reconnect (a storm) share one query and each device gets its own', async () => {
        await registry.createDevices(
          Array.from({ length: 30 }, (_, i) => ({ id: `cfg-${i}`, name: `C${i}`, department: 'env', type: 'aq' })),
        );
        const set1 = await registry.downlinks.setDesiredConfig('cfg-1', { interval_s: 60 });
        await registry.downlinks.setDesiredConfig('cfg-2', { interval_s: 60 });
        const set2 = await registry.downlinks.setDesiredConfig('cfg-2', { interval_s: 300 });
        const query = vi.spyOn(db, 'query');
        try {
          const answers = await Promise.all(
            Array.from({ length: 30 }, (_, i) => registry.downlinks.getDesiredConfig(`cfg-${i}`)),
          );
          expect(answers).toStrictEqual(
            Array.from({ length: 30 }, (_, i) => (i === 1 ? set1 : i === 2 ? set2 : undefined)),
          );
          expect(answers[2]!.version).toBe(2);
          expect(query).toHaveBeenCalledTimes(1);
        } finally {
          query.mockRestore();
        }
      });

      it('loginDevice says in the credentials query whether an unacknowledged desired configuration awaits the device', async () => {
        const [a, b] = await registry.createDevices([
          { id: 'login-a', name: 'A', department: 'env', type: 'aq' },
          { id: 'login-b', name: 'B', department: 'env', type: 'aq' },
        ]);
        const login = (c: typeof a) => registry.loginDevice(c!.device.id, Buffer.from(c!.secret));
        expect(await login(a)).toStrictEqual({ device: a!.device, configPending: false });
        await registry.downlinks.setDesiredConfig('login-a', { interval_s: 60 });
        const query = vi.spyOn(db, 'query');
        try {
          expect(await Promise.all([login(a), login(b)])).toStrictEqual([
            { device: a!.device, configPending: true },
            { device: b!.device, configPending: false },
          ]);
          expect(query).toHaveBeenCalledTimes(1);
        } finally {
          query.mockRestore();
        }
        await registry.downlinks.recordAck('login-a', 'sus/v1/devices/login-a/ack', Buffer.from('{"config":1}'));
        expect(await login(a)).toStrictEqual({ device: a!.device, configPending: false });
        await registry.downlinks.setDesiredConfig('login-a', { interval_s: 30 });
        expect(await login(a)).toStrictEqual({ device: a!.device, configPending: true });
        expect(await registry.loginDevice('login-a', b!.secret)).toBeUndefined();
      });

      it('authenticateDevice accepts the secret as a Buffer (MQTT password)', async () => {
        const { device, secret } = await registry.createDevice({ id: 'buf', name: 'B', department: 'env', type: 'aq' });
        expect(await registry.authenticateDevice('buf', Buffer.from(secret, 'utf8'))).toStrictEqual(device);
        expect(await registry.authenticateDevice('buf', Buffer.from('wrong', 'utf8'))).toBeUndefined();
        expect(await registry.authenticateDevice('buf', Buffer.alloc(0))).toBeUndefined();
      });

      it('rotateDeviceSecret: the old secret is refused, the new one accepted and stored hashed', async () => {
        const { device, secret: old } = await registry.createDevice({
          id: 'rot',
          name: 'R',
          department: 'env',
          type: 'aq',
        });
        const fresh = await registry.rotateDeviceSecret('rot');
        expect(fresh).not.toBe(old);
        expect(fresh).toMatch(/^[A-Za-z0-9_-]{22,}$/);
        expect(await registry.authenticateDevice('rot', old)).toBeUndefined();
        expect(await registry.authenticateDevice('rot', fresh)).toStrictEqual(device);
        expect(await storedHash('rot')).toBe(sha256Hex(fresh));
      });

      it('rotating an unknown device is a 404 SUS_ERR_DEVICE_NOT_FOUND', async () => {
        const err = await expectSusError(() => registry.rotateDeviceSecret('ghost'), 'SUS_ERR_DEVICE_NOT_FOUND', 404);
        expect(err.context).toStrictEqual({ id: 'ghost' });
      });

      it('emits a change event on create and on rotate, none on failures', async () => {
        const events: RegistryEvent[] = [];
        registry.on('change', (e) => events.push(e));
        await registry.createDevice({ id: 'ev', name: 'E', department: 'env', type: 'aq' });
        expect(events).toStrictEqual([{ type: 'device-changed', id: 'ev' }]);
        await registry.rotateDeviceSecret('ev');
        expect(events).toStrictEqual([
          { type: 'device-changed', id: 'ev' },
          { type: 'device-changed', id: 'ev' },
        ]);
        await registry.createDevice({ id: 'ev', name: 'E', department: 'env', type: 'aq' }).catch(() => undefined);
        await registry.createDevice({ id: 'ev2', name: 'E', department: 'nope', type: 'aq' }).catch(() => undefined);
        await registry.rotateDeviceSecret('ghost').catch(() => undefined);
        expect(events).toHaveLength(2);
      });

      it('touchDevices sets lastSeenAt for the given devices only and never moves it backwards', async () => {
        await registry.createDevice({ id: 't1', name: 'T1', department: 'env', type: 'aq' });
        await registry.createDevice({ id: 't2', name: 'T2', department: 'env', type: 'aq' });
        await registry.createDevice({ id: 't3', name: 'T3', department: 'env', type: 'aq' });
        const seen = async (id: string) => (await registry.getDevice(id))?.lastSeenAt;

        const t1 = new Date('2030-01-01T10:00:00.123Z');
        await registry.touchDevices(['t1', 't2', 'ghost'], t1);
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t2')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t3')).toBeNull();

        await registry.touchDevices(['t1', 't3'], new Date('2030-01-01T09:00:00.000Z'));
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t3')).toBe('2030-01-01T09:00:00.000Z');

        await registry.touchDevices(['t2'], new Date('2030-01-01T11:30:00.456Z'));
        expect(await seen('t2')).toBe('2030-01-01T11:30:00.456Z');
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');

        await registry.touchDevices([], new Date('2031-01-01T00:00:00.000Z'));
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        const listed = await registry.listDevices();
        expect(listed.map((d) => [d.id, d.lastSeenAt])).toStrictEqual([
          ['t1', '2030-01-01T10:00:00.123Z'],
          ['t2', '2030-01-01T11:30:00.456Z'],
          ['t3', '2030-01-01T09:00:00.000Z'],
        ]);
      });
    });
  });
});
