import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import type { Config } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

/** HTTP push and dead letters against the real platform: real HTTP, real InfluxDB, real registry (PGlite). */
let platform: Platform;
let config: Config;
let base: string;
let profilesDir: string;
const keys: Record<string, string> = {};

async function call(method: string, url: string, key: string, body?: string | Buffer) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A TTN v3 uplink as The Things Stack's webhook posts it, received by the network server at `at`. */
const ttn = (device: string, decoded: Record<string, unknown>, at: number) =>
  JSON.stringify({
    end_device_ids: { device_id: device, application_ids: { application_id: 'city' } },
    received_at: new Date(at).toISOString(),
    uplink_message: {
      f_port: 1,
      decoded_payload: decoded,
      rx_metadata: [{ gateway_ids: { gateway_id: 'gw-1' }, rssi: -90, snr: 7.5 }],
      received_at: new Date(at).toISOString(),
    },
  });

/** Stored points of a device, every measurement, as `measurement value flags time`. */
async function stored(device: string): Promise<string[]> {
  const [series = []] = await platform.influx.query(
    `SELECT "value", "flags" FROM /.*/ WHERE "device" = '${device}' AND time > now() - 1h`,
  );
  return series.flatMap((s) => (s.values ?? []).map((v) => `${s.name} ${v[1]} ${v[2] ?? '-'} ${v[0]}`)).sort();
}

beforeAll(async () => {
  profilesDir = mkdtempSync(path.join(tmpdir(), 'sus-dl-profiles-'));
  config = testConfig({ SUS_PROFILES_DIR: profilesDir });
  platform = await startPlatform(config, silentLogger);
  base = `http://127.0.0.1:${platform.httpPort}`;
  const r = platform.registry;
  await r.createDepartment({ id: 'drainage', name: 'Drainage' });
  await r.createDepartment({ id: 'parks', name: 'Parks' });
  await r.createDevice({ id: 'wl-1', name: 'Gauge 1', department: 'drainage', type: 'river_gauge' });
  await r.createDevice({ id: 'wl-2', name: 'Gauge 2', department: 'drainage', type: 'river_gauge' });
  await r.createDevice({ id: 'soil-1', name: 'Soil 1', department: 'parks', type: 'soil' });
  keys.drainageWrite = (await r.keys.create({ name: 'ttn', department: 'drainage', scopes: ['write'] })).key;
  keys.drainageRead = (await r.keys.create({ name: 'dash', department: 'drainage', scopes: ['read'] })).key;
  keys.parks = (await r.keys.create({ name: 'parks', department: 'parks', scopes: ['read', 'write'] })).key;
});

afterAll(async () => {
  await platform?.stop();
  rmSync(profilesDir, { recursive: true, force: true });
});

describe('HTTP push POST /v1/ingest/{format}', () => {
  it('stores a TTN webhook uplink pushed with an integration key, rssi and snr included', async () => {
    const at = Date.now() - 5000;
    const res = await call('POST', '/v1/ingest/ttn', keys.drainageWrite!, ttn('wl-1', { water_level: 1.5 }, at));
    expect(res).toStrictEqual({ status: 200, body: { accepted: 3, rejected: [], deadLetterId: null } });
    expect(
      await eventually(
        () => stored('wl-1'),
        (s) => s.length === 3,
      ),
    ).toStrictEqual([`rssi -90 - ${at}`, `snr 7.5 - ${at}`, `water_level 1.5 - ${at}`]);
  });

  it('takes the device from ?device= for canonical JSON and converts units', async () => {
    const at = Date.now() - 4000;
    const body = JSON.stringify({ time: at, values: { water_level: 80 }, units: { water_level: 'cm' } });
    const res = await call('POST', '/v1/ingest/canonical?device=wl-2', keys.drainageWrite!, body);
    expect(res).toStrictEqual({ status: 200, body: { accepted: 1, rejected: [], deadLetterId: null } });
    expect(
      await eventually(
        () => stored('wl-2'),
        (s) => s.length === 1,
      ),
    ).toStrictEqual([`water_level 0.8 - ${at}`]);
  });

  it('takes binary SenML CBOR (application/senml+cbor), the device from the base name', async () => {
    // [{-2: "wl-2/", 0: "water_level", 1: "cm", 2: 42, 6: -1}]: RFC 8428 §6 labels, t = -1 s (relative to now)
    const pack = Buffer.concat([
      Buffer.from([0x81, 0xa5, 0x21, 0x65]),
      Buffer.from('wl-2/'),
      Buffer.from([0x00, 0x6b]),
      Buffer.from('water_level'),
      Buffer.from([0x01, 0x62]),
      Buffer.from('cm'),
      Buffer.from([0x02, 0x18, 42, 0x06, 0x20]),
    ]);
    const res = await fetch(`${base}/v1/ingest/senml-cbor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.drainageWrite}`, 'content-type': 'application/senml+cbor' },
      body: pack,
    });
    expect([res.status, await res.json()]).toStrictEqual([200, { accepted: 1, rejected: [], deadLetterId: null }]);
    expect(
      await eventually(
        () => stored('wl-2'),
        (s) => s.some((l) => l.startsWith('water_level 0.42 ')),
      ),
    ).toHaveLength(2);
  });

  it("answers another department's device exactly like an unknown one and files nothing under it", async () => {
    const before = (await call('GET', '/v1/dead-letters', keys.drainageWrite!)).body.deadLetters;
    const now = Date.now();
    const outcome = (device: string) => ({
      status: 422,
      body: {
        type: '/docs/errors.md#sus_err_ingest_rejected',
        title: 'Unprocessable Content',
        status: 422,
        code: 'SUS_ERR_INGEST_REJECTED',
        detail: 'nothing was stored (INGEST_UNKNOWN_DEVICE)',
        accepted: 0,
        rejected: [
          { code: 'INGEST_UNKNOWN_DEVICE', message: `device '${device}' is not a device of department 'parks'` },
        ],
        deadLetterId: expect.any(Number),
      },
    });
    const body = '{"values":{"water_level":9}}';
    const foreign = await call('POST', '/v1/ingest/canonical?device=wl-2', keys.parks!, body);
    const unknown = await call('POST', '/v1/ingest/canonical?device=wl-404', keys.parks!, body);
    expect([foreign, unknown]).toStrictEqual([outcome('wl-2'), outcome('wl-404')]);
    const foreignTtn = await call('POST', '/v1/ingest/ttn', keys.parks!, ttn('wl-2', { water_level: 9 }, now));
    const unknownTtn = await call('POST', '/v1/ingest/ttn', keys.parks!, ttn('wl-404', { water_level: 9 }, now));
    expect([foreignTtn, unknownTtn]).toStrictEqual([outcome('wl-2'), outcome('wl-404')]);
    // The owner's queue is unchanged (nothing to replay into its device); the entries are the platform's.
    expect((await call('GET', '/v1/dead-letters', keys.drainageWrite!)).body.deadLetters).toStrictEqual(before);
    const filed = await call('GET', `/v1/dead-letters/${foreignTtn.body.deadLetterId}`, TEST_ADMIN_KEY);
    expect([filed.body.device, filed.body.topic]).toStrictEqual([null, '/v1/ingest/ttn']);
    const replay = await call('POST', `/v1/dead-letters/${foreignTtn.body.deadLetterId}/replay`, keys.drainageWrite!);
    expect(replay.status).toBe(404);
    expect((await stored('wl-2')).filter((l) => l.startsWith('water_level 9 '))).toStrictEqual([]);
  });

  it('refuses a payload above SUS_MAX_PAYLOAD_BYTES with 413 before decoding it, and files nothing', async () => {
    const max = config.SUS_MAX_PAYLOAD_BYTES;
    const json = '{"values":{"water_level":0.7}}';
    const sized = (n: number) => json + ' '.repeat(n - json.length);
    const before = (await call('GET', '/v1/dead-letters?limit=1000', TEST_ADMIN_KEY)).body.deadLetters;
    const over = await call('POST', '/v1/ingest/canonical?device=wl-1', keys.drainageWrite!, sized(max + 1));
    expect([over.status, over.body.code, over.body.detail]).toStrictEqual([
      413,
      'SUS_ERR_PAYLOAD_TOO_LARGE',
      `the payload has ${max + 1} bytes; SUS_MAX_PAYLOAD_BYTES allows ${max}`,
    ]);
    expect((await call('GET', '/v1/dead-letters?limit=1000', TEST_ADMIN_KEY)).body.deadLetters).toStrictEqual(before);
    // What MQTT takes, HTTP takes: a payload of exactly the limit is decoded and stored.
    const at = await call('POST', '/v1/ingest/canonical?device=wl-1', keys.drainageWrite!, sized(max));
    expect([at.status, at.body.accepted]).toStrictEqual([200, 1]);
  });

  it('needs the write scope', async () => {
    const res = await call('POST', '/v1/ingest/ttn', keys.drainageRead!, ttn('wl-1', { water_level: 1 }, Date.now()));
    expect(res.status).toBe(403);
  });

  it('rejects an unknown format with 400', async () => {
    expect((await call('POST', '/v1/ingest/xml', keys.drainageWrite!, '<a/>')).status).toBe(400);
  });
});

describe('dead letters: list, replay, discard', () => {
  let unknownFieldId: number;
  let unknownDeviceId: number;

  it('files what a push cannot use as a dead letter, and answers 422 when nothing got in', async () => {
    const at = Date.now() - 3000;
    const res = await call('POST', '/v1/ingest/ttn', keys.drainageWrite!, ttn('wl-1', { level_mm: 1234 }, at));
    expect(res.status).toBe(200); // rssi and snr got in; the unknown field did not
    expect(res.body.rejected).toStrictEqual([
      {
        code: 'INGEST_UNKNOWN_QUANTITY',
        message: "'level_mm' is not a quantity of the catalogue",
        field: 'uplink_message.decoded_payload.level_mm',
      },
    ]);
    unknownFieldId = res.body.deadLetterId as number;
    const ghost = await call(
      'POST',
      '/v1/ingest/canonical?device=wl-9',
      TEST_ADMIN_KEY,
      '{"values":{"water_level":2}}',
    );
    expect(ghost).toStrictEqual({
      status: 422,
      body: {
        type: '/docs/errors.md#sus_err_ingest_rejected',
        title: 'Unprocessable Content',
        status: 422,
        code: 'SUS_ERR_INGEST_REJECTED',
        detail: 'nothing was stored (INGEST_UNKNOWN_DEVICE)',
        accepted: 0,
        rejected: [{ code: 'INGEST_UNKNOWN_DEVICE', message: "device 'wl-9' is not registered" }],
        deadLetterId: expect.any(Number),
      },
    });
    unknownDeviceId = ghost.body.deadLetterId as number;
  });

  it('lists entries with status, source and reason filters and shows format and status', async () => {
    const res = await call(
      'GET',
      '/v1/dead-letters?status=new&source=http&reason=INGEST_UNKNOWN_QUANTITY',
      TEST_ADMIN_KEY,
    );
    expect(res.status).toBe(200);
    const entries = res.body.deadLetters as Array<Record<string, unknown>>;
    expect(entries.map((e) => [e.id, e.device, e.topic, e.format, e.status, e.replays])).toStrictEqual([
      [unknownFieldId, 'wl-1', '/v1/ingest/ttn', 'ttn', 'new', 0],
    ]);
  });

  it('replays an entry after a device profile fix: the value gets in and the entry becomes replayed', async () => {
    const before = await call('POST', `/v1/dead-letters/${unknownFieldId}/replay`, keys.drainageWrite!);
    expect(before.body).toMatchObject({ id: unknownFieldId, status: 'new', accepted: 2 });
    writeFileSync(
      path.join(profilesDir, 'river_gauge.json'),
      JSON.stringify({ type: 'river_gauge', fields: { level_mm: { quantity: 'water_level', unit: 'mm' } } }),
    );
    const after = await call('POST', `/v1/dead-letters/${unknownFieldId}/replay`, keys.drainageWrite!);
    expect(after).toStrictEqual({
      status: 200,
      body: { id: unknownFieldId, status: 'replayed', accepted: 3, rejected: [] },
    });
    await eventually(
      () => stored('wl-1'),
      (s) => s.some((l) => l.startsWith('water_level 1.234 ')),
    );
    const entry = await call('GET', `/v1/dead-letters/${unknownFieldId}`, TEST_ADMIN_KEY);
    expect([entry.body.status, entry.body.replays, typeof entry.body.resolvedAt]).toStrictEqual([
      'replayed',
      2,
      'string',
    ]);
    const again = await call('POST', `/v1/dead-letters/${unknownFieldId}/replay`, keys.drainageWrite!);
    expect([again.status, again.body.code]).toStrictEqual([409, 'SUS_ERR_DEAD_LETTER_RESOLVED']);
  });

  it('replays an unknown-device entry once the device is registered', async () => {
    await platform.registry.createDevice({ id: 'wl-9', name: 'Gauge 9', department: 'drainage', type: 'river_gauge' });
    const res = await call('POST', `/v1/dead-letters/${unknownDeviceId}/replay`, TEST_ADMIN_KEY);
    expect(res.body).toStrictEqual({ id: unknownDeviceId, status: 'replayed', accepted: 1, rejected: [] });
  });

  it('hides another department’s entries from a department key (404) and discards with the write scope', async () => {
    const bad = await call('POST', '/v1/ingest/ttn', keys.drainageWrite!, '{"end_device_ids":');
    const id = bad.body.deadLetterId as number;
    expect((await call('GET', `/v1/dead-letters/${id}`, keys.parks!)).status).toBe(404);
    expect((await call('POST', `/v1/dead-letters/${id}/discard`, keys.parks!)).status).toBe(404);
    expect(await call('POST', `/v1/dead-letters/${id}/discard`, TEST_ADMIN_KEY)).toStrictEqual({
      status: 200,
      body: { id, status: 'discarded' },
    });
    const list = await call('GET', '/v1/dead-letters?status=discarded', TEST_ADMIN_KEY);
    expect((list.body.deadLetters as Array<{ id: number }>).map((e) => e.id)).toStrictEqual([id]);
    expect((await call('POST', `/v1/dead-letters/${id}/replay`, TEST_ADMIN_KEY)).status).toBe(409);
  });

  it('lists a department key only its own devices’ entries', async () => {
    await call('POST', '/v1/ingest/canonical?device=soil-1', keys.parks!, '{"values":{"bogus":1}}');
    const parks = await call('GET', '/v1/dead-letters', keys.parks!);
    expect((parks.body.deadLetters as Array<{ device: string }>).map((e) => e.device)).toStrictEqual(['soil-1']);
  });
});
