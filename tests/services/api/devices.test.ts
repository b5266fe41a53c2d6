import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

interface Created {
  device: { id: string; department: string; type: string };
  credentials: { username: string; password: string };
}
interface Problem {
  code: string;
  detail: string;
  errors?: Array<{ field: string; message: string; line?: number }>;
}

const csvPost = async (h: Harness, key: string | undefined, csv: string) => {
  const res = await fetch(`${h.base}/v1/devices/import`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: csv,
  });
  return { status: res.status, body: (await res.json()) as unknown };
};

describe('devices: CRUD, types, decommission, rotation, import, status', () => {
  let h: Harness;
  let envKey: string;
  beforeAll(async () => {
    // Small import and claim limits: the tests below reach them.
    h = await startHarness({ SUS_IMPORT_MAX_ROWS: '6', SUS_IMPORT_MAX_ERRORS: '4', SUS_CLAIM_MAX_OPEN: '2' });
    envKey = (
      await h.admin<{ key: string }>('POST', '/v1/keys', {
        name: 'env prov',
        department: 'environment',
        scopes: ['provision', 'read'],
      })
    ).body.key;
  });
  afterAll(async () => h?.stop());

  it('defines a device type with its expected interval and lists it', async () => {
    const prov = await h.as('environment', ['provision', 'read']);
    const res = await prov('POST', '/v1/device-types', {
      id: 'air_quality',
      name: 'Air quality station',
      quantities: ['air_temperature', 'pm2_5'],
      expectedIntervalS: 60,
      profile: { vendor: 'Example' },
    });
    expect(res.status).toBe(201);
    const got = await prov<{ expectedIntervalS: number; quantities: string[]; profile: unknown }>(
      'GET',
      '/v1/device-types/air_quality',
    );
    expect(got.body).toMatchObject({
      expectedIntervalS: 60,
      quantities: ['air_temperature', 'pm2_5'],
      profile: { vendor: 'Example' },
    });
    const bad = await prov<Problem>('POST', '/v1/device-types', {
      id: 'x_type',
      name: 'x',
      quantities: ['warp_speed'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('SUS_ERR_UNKNOWN_QUANTITY');
    expect((await prov('POST', '/v1/device-types', { id: 'air_quality', name: 'again' })).status).toBe(409);
  });

  it('updates a device, rotates its password (old one stops working) and decommissions it keeping the record', async () => {
    const prov = await h.as('environment', ['provision', 'read']);
    const created = await prov<Created>('POST', '/v1/devices', { id: 'aq-dev-1', name: 'AQ 1', type: 'air_quality' });
    expect(created.status).toBe(201);
    const patched = await prov<{ name: string; district: string }>('PATCH', '/v1/devices/aq-dev-1', {
      name: 'AQ one',
      district: 'Nord',
    });
    expect(patched.status).toBe(200);
    expect([patched.body.name, patched.body.district]).toStrictEqual(['AQ one', 'Nord']);

    const rotated = await prov<{ password: string; username: string }>('POST', '/v1/devices/aq-dev-1/credentials');
    expect(rotated.status).toBe(200);
    expect(rotated.body.username).toBe('aq-dev-1');
    const reg = h.platform.registry;
    expect(await reg.authenticateDevice('aq-dev-1', created.body.credentials.password)).toBeUndefined();
    expect((await reg.authenticateDevice('aq-dev-1', rotated.body.password))?.id).toBe('aq-dev-1');

    expect((await prov('DELETE', '/v1/devices/aq-dev-1')).status).toBe(204);
    expect(await reg.authenticateDevice('aq-dev-1', rotated.body.password)).toBeUndefined();
    const status = await prov<{ state: string; decommissionedAt: string | null }>('GET', '/v1/devices/aq-dev-1/status');
    expect(status.body.state).toBe('decommissioned');
    expect(status.body.decommissionedAt).not.toBeNull();
    expect((await prov<{ id: string }>('GET', '/v1/devices/aq-dev-1')).body.id).toBe('aq-dev-1');
    const again = await prov<Problem>('POST', '/v1/devices/aq-dev-1/credentials');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('SUS_ERR_DEVICE_DECOMMISSIONED');
  });

  it("hides another department's device: 404 on read, update, rotation and decommission", async () => {
    const traffic = await h.as('traffic', ['provision', 'read']);
    await h.admin('POST', '/v1/devices', {
      id: 'env-private',
      name: 'p',
      department: 'environment',
      type: 'air_quality',
    });
    for (const [method, path] of [
      ['GET', '/v1/devices/env-private'],
      ['PATCH', '/v1/devices/env-private'],
      ['POST', '/v1/devices/env-private/credentials'],
      ['DELETE', '/v1/devices/env-private'],
      ['GET', '/v1/devices/env-private/status'],
    ] as const) {
      const res = await traffic<Problem>(method, path, method === 'PATCH' ? { name: 'stolen' } : undefined);
      expect([method, path, res.status, res.body.code]).toStrictEqual([method, path, 404, 'SUS_ERR_DEVICE_NOT_FOUND']);
    }
  });

  it('imports a good CSV file: every device created with credentials', async () => {
    const csv =
      'id,name,department,type,district,lat,lon\nimp-1,One,environment,air_quality,Nord,48.5,9.2\nimp-2,Two,,noise,,,\n';
    const res = await csvPost(h, envKey, csv);
    expect(res.status).toBe(201);
    const body = res.body as { imported: number; devices: Created[] };
    expect(body.imported).toBe(2);
    expect(body.devices.map((d) => [d.device.id, d.device.department, d.device.type])).toStrictEqual([
      ['imp-1', 'environment', 'air_quality'],
      ['imp-2', 'environment', 'noise'],
    ]);
    expect(body.devices.every((d) => d.credentials.password.length > 20)).toBe(true);
  });

  it('imports nothing when one row is bad and lists every error with its line number', async () => {
    const csv = [
      'id,name,department,type,district,lat,lon',
      'bad-1,Fine,environment,air_quality,Nord,48.5,9.2',
      'bad-2,Wrong lat,environment,air_quality,Nord,123,9.2',
      'bad-3,Other dept,traffic,air_quality,,,',
      'imp-1,Exists,environment,air_quality,,,',
      'bad-1,Duplicate,environment,air_quality,,,',
    ].join('\n');
    const res = await csvPost(h, envKey, csv);
    expect(res.status).toBe(400);
    const body = res.body as Problem;
    expect(body.code).toBe('SUS_ERR_IMPORT_INVALID');
    expect(body.errors).toStrictEqual([
      { line: 3, field: 'lat', message: 'Too big: expected number to be <=90' },
      { line: 4, field: 'department', message: "this key may only import devices of 'environment'" },
      { line: 5, field: 'id', message: "device 'imp-1' already exists" },
      { line: 6, field: 'id', message: "device 'bad-1' is also on line 2" },
    ]);
    expect(await h.platform.registry.getDevice('bad-1')).toBeUndefined();
  });

  it('refuses a file over SUS_IMPORT_MAX_ROWS with 413, and lists at most SUS_IMPORT_MAX_ERRORS errors with their count', async () => {
    const header = 'id,name,department,type,district,lat,lon';
    const rows = (n: number, lat: number) =>
      Array.from({ length: n }, (_, i) => `lim-${i},Row ${i},environment,air_quality,,${lat},9.2`);
    const big = await csvPost(h, envKey, [header, ...rows(7, 48.5)].join('\n'));
    expect(big).toStrictEqual({
      status: 413,
      body: {
        type: `/docs/errors.md#sus_err_import_too_large`,
        title: 'Payload Too Large',
        status: 413,
        code: 'SUS_ERR_IMPORT_TOO_LARGE',
        detail: 'the file holds more than 6 device rows (SUS_IMPORT_MAX_ROWS): split it',
        context: { limit: 6 },
      },
    });
    const bad = await csvPost(h, envKey, [header, ...rows(6, 123)].join('\n'));
    const message = 'Too big: expected number to be <=90';
    expect([bad.status, (bad.body as Problem).errors, (bad.body as { context: unknown }).context]).toStrictEqual([
      400,
      [2, 3, 4, 5].map((line) => ({ line, field: 'lat', message })),
      { errorCount: 6 },
    ]);
    expect((bad.body as Problem).detail).toBe(
      `6 error(s); nothing was imported; the first 4: ${[2, 3, 4, 5].map((l) => `line ${l} lat: ${message}`).join('; ')}`,
    );
    expect(await h.platform.registry.getDevice('lim-0')).toBeUndefined();
  });

  it('holds at most SUS_CLAIM_MAX_OPEN unused claim codes per department, and deletes expired ones', async () => {
    const waste = await h.as('waste', ['provision']);
    const newClaim = () => waste<{ code: string }>('POST', '/v1/claims', { type: 'bin_sensor' });
    const [first, second] = [await newClaim(), await newClaim()];
    expect([first.status, second.status]).toStrictEqual([201, 201]);
    const third = await waste<Problem>('POST', '/v1/claims', { type: 'bin_sensor' });
    expect([third.status, third.body.code, third.body.detail]).toStrictEqual([
      409,
      'SUS_ERR_CLAIM_LIMIT',
      "department 'waste' holds 2 unused claim codes, the most it may (SUS_CLAIM_MAX_OPEN): use them or let them expire",
    ]);
    // Another department is not affected.
    expect((await (await h.as('traffic', ['provision']))('POST', '/v1/claims', { type: 'counter' })).status).toBe(201);
    // A used code frees a place; so does an expired one, which is deleted.
    expect((await waste('POST', '/v1/provision/claim', { code: first.body.code })).status).toBe(201);
    expect((await newClaim()).status).toBe(201);
    const db = h.platform.registry.db;
    await db.query(
      "UPDATE claim_codes SET expires_at = now() - interval '1 second' WHERE department_id = 'waste' AND used_at IS NULL",
    );
    expect((await newClaim()).status).toBe(201);
    expect(
      await db.query("SELECT count(*)::int AS n FROM claim_codes WHERE department_id = 'waste' AND used_at IS NULL"),
    ).toStrictEqual([{ n: 1 }]);
  });

  it("lists silent devices: never seen, or quiet longer than SUS_SILENT_FACTOR × the type's interval", async () => {
    const prov = await h.as('parks', ['provision', 'read']);
    await prov('POST', '/v1/device-types', {
      id: 'soil_probe',
      name: 'Soil',
      quantities: ['soil_moisture'],
      expectedIntervalS: 60,
    });
    for (const id of ['soil-fresh', 'soil-quiet', 'soil-never'])
      await prov('POST', '/v1/devices', { id, name: id, type: 'soil_probe' });
    const reg = h.platform.registry;
    await reg.touchDevices(['soil-fresh'], new Date(Date.now() - 60_000));
    await reg.touchDevices(['soil-quiet'], new Date(Date.now() - 3600_000));
    const res = await prov<{ devices: Array<{ device: string; silentForS: number | null }> }>(
      'GET',
      '/v1/devices/silent',
    );
    expect(res.body.devices.map((d) => d.device)).toStrictEqual(['soil-never', 'soil-quiet']);
    expect(res.body.devices[0]!.silentForS).toBeNull();
    const fresh = await prov<{ state: string }>('GET', '/v1/devices/soil-fresh/status');
    expect(fresh.body.state).toBe('online');
  });
});
