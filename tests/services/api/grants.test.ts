import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually } from '../../helpers/env.ts';
import { readEvents } from '../../helpers/sse.ts';
import { type Dept, type Harness, startHarness } from './harness.ts';

const HOUR = 3600_000;
const UNITS: Record<string, string> = { pm10: 'ug/m3', air_temperature: 'Cel' };
const QUANTITIES = ['pm10', 'air_temperature'] as const;

interface Dev {
  id: string;
  type: string;
  district: string | null;
  lat: number;
  lon: number;
}
/** The owner's devices: two districts, one device without a district, one of another type. */
const DEVICES: Dev[] = [
  // In the registry's order (by id).
  { id: 'g-noise', type: 'noise', district: 'Nord', lat: 48.51, lon: 9.21 },
  { id: 'g-none', type: 'air_quality', district: null, lat: 48.45, lon: 9.25 },
  { id: 'g-nord', type: 'air_quality', district: 'Nord', lat: 48.5, lon: 9.2 },
  { id: 'g-sued', type: 'air_quality', district: 'Sued', lat: 48.4, lon: 9.3 },
];
const byId = new Map(DEVICES.map((d) => [d.id, d]));

interface Reading {
  device: string;
  quantity: string;
  value: number;
  time: number;
}
interface GrantDef {
  quantities: string[];
  deviceTypes?: string[];
  districts?: string[];
  from?: number;
  to?: number;
}

/** The test's own statement of what a grant covers (independent of the code under test). */
function covered(g: GrantDef, r: Reading): boolean {
  const d = byId.get(r.device)!;
  return (
    g.quantities.includes(r.quantity) &&
    (!g.deviceTypes || g.deviceTypes.includes(d.type)) &&
    (!g.districts || (d.district !== null && g.districts.includes(d.district))) &&
    (g.from === undefined || r.time >= g.from) &&
    (g.to === undefined || r.time <= g.to)
  );
}
const deviceCovered = (g: GrantDef, d: Dev) =>
  (!g.deviceTypes || g.deviceTypes.includes(d.type)) &&
  (!g.districts || (d.district !== null && g.districts.includes(d.district)));

const iso = (t: number) => new Date(t).toISOString();

describe('grants: one rule of what a grant covers, the same on every route', () => {
  let h: Harness;
  const clients: MqttClient[] = [];
  // Readings before, inside and after the window [w0, w1], which ended hours ago.
  const base = Math.floor(Date.now() / HOUR) * HOUR - 10 * HOUR;
  const [A, B, C] = [base, base + 2 * HOUR, base + 4 * HOUR];
  const [w0, w1] = [base + HOUR, base + 3 * HOUR];
  const until = base + 6 * HOUR;
  const GRANTS: Record<'traffic' | 'parks' | 'waste', GrantDef> = {
    // Districts only: a device without a district is not covered; any device type is.
    traffic: { quantities: ['pm10'], districts: ['Nord'] },
    // A device type and a closed time window; no district limit, so g-none is covered.
    parks: { quantities: ['pm10', 'air_temperature'], deviceTypes: ['air_quality'], from: w0, to: w1 },
    // Two districts and an end date in the past.
    waste: { quantities: ['pm10', 'air_temperature'], districts: ['Nord', 'Sued'], to: w1 },
  };
  const READERS = Object.keys(GRANTS) as Array<keyof typeof GRANTS>;
  const stored: Reading[] = [];
  const credentials = new Map<string, { username: string; password: string; clientId: string }>();

  beforeAll(async () => {
    h = await startHarness({}, true);
    for (const d of DEVICES) {
      const res = await h.admin<{ credentials: { username: string; password: string; clientId: string } }>(
        'POST',
        '/v1/devices',
        { ...d, name: d.id, department: 'environment' },
      );
      expect(res.status).toBe(201);
      credentials.set(d.id, res.body.credentials);
    }
    let value = 1;
    for (const d of DEVICES)
      for (const q of QUANTITIES)
        for (const time of [A, B, C]) stored.push({ device: d.id, quantity: q, value: value++, time });
    await h.write(
      stored.map((r) => {
        const d = byId.get(r.device)!;
        return {
          q: r.quantity,
          device: d.id,
          dept: 'environment',
          district: d.district ?? '',
          type: d.type,
          value: r.value,
          time: r.time,
        };
      }),
    );
    const envAdmin = await h.as('environment', ['admin']);
    for (const reader of READERS) {
      const g = GRANTS[reader];
      const res = await envAdmin('POST', '/v1/grants', {
        grantee: reader,
        title: `for ${reader}`,
        purpose: 'tests',
        quantities: g.quantities,
        deviceTypes: g.deviceTypes ?? null,
        districts: g.districts ?? null,
        from: g.from === undefined ? null : iso(g.from),
        to: g.to === undefined ? null : iso(g.to),
        expiresAt: iso(Date.now() + 24 * HOUR),
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await h?.stop();
  });

  /** Latest covered value of each device (registry order), as /v1/latest answers it. */
  const latestOf = (g: GrantDef, readings: Reading[], q: string, devices: Dev[]) =>
    devices.flatMap((d) => {
      const mine = readings.filter((r) => r.device === d.id && r.quantity === q && covered(g, r));
      if (mine.length === 0) return [];
      const last = mine.reduce((a, b) => (b.time > a.time ? b : a));
      return [
        {
          device: d.id,
          department: 'environment',
          type: d.type,
          district: d.district,
          lat: d.lat,
          lon: d.lon,
          values: [{ quantity: q, value: last.value, unit: UNITS[q], time: iso(last.time) }],
        },
      ];
    });

  it('answers latest values, raw readings and aggregates of a department exactly as far as each grant covers', async () => {
    const seen: unknown[] = [];
    const want: unknown[] = [];
    for (const reader of READERS) {
      const g = GRANTS[reader];
      const api = await h.as(reader as Dept, ['read']);
      for (const q of QUANTITIES) {
        const shared = g.quantities.includes(q);
        const latest = await api('GET', `/v1/latest?department=environment&quantity=${q}`);
        seen.push([reader, q, 'latest', latest.status, shared ? latest.body : null]);
        want.push([
          reader,
          q,
          'latest',
          shared ? 200 : 403,
          shared ? { devices: latestOf(g, stored, q, DEVICES) } : null,
        ]);

        const raw = await api(
          'GET',
          `/v1/readings?department=environment&quantity=${q}&from=${iso(A)}&to=${iso(until)}`,
        );
        const rows = stored
          .filter((r) => r.quantity === q && covered(g, r))
          .sort((a, b) => a.time - b.time || a.device.localeCompare(b.device))
          .map((r) => ({ device: r.device, quantity: q, value: r.value, unit: UNITS[q], time: iso(r.time) }));
        seen.push([reader, q, 'readings', raw.status, shared ? raw.body : null]);
        want.push([reader, q, 'readings', shared ? 200 : 403, shared ? { readings: rows, next: null } : null]);

        const agg = await api<{ series: Array<{ group: { device: string }; points: Array<{ value: number }> }> }>(
          'GET',
          `/v1/readings/aggregate?department=environment&quantity=${q}&from=${iso(A)}&to=${iso(until)}&every=1h&fn=count&groupBy=device`,
        );
        const counts = shared
          ? Object.fromEntries(agg.body.series.map((s) => [s.group.device, s.points.reduce((n, p) => n + p.value, 0)]))
          : null;
        const expectedCounts: Record<string, number> = {};
        for (const r of stored)
          if (r.quantity === q && covered(g, r)) expectedCounts[r.device] = (expectedCounts[r.device] ?? 0) + 1;
        seen.push([reader, q, 'aggregate', agg.status, counts]);
        want.push([reader, q, 'aggregate', shared ? 200 : 403, shared ? expectedCounts : null]);
      }
    }
    expect(seen).toStrictEqual(want);
  });

  it('answers a named device the same way: 404 when no grant covers the device itself, its covered values otherwise', async () => {
    const seen: unknown[] = [];
    const want: unknown[] = [];
    for (const reader of READERS) {
      const g = GRANTS[reader];
      const api = await h.as(reader as Dept, ['read']);
      for (const d of DEVICES)
        for (const q of QUANTITIES) {
          const status = !deviceCovered(g, d) ? 404 : !g.quantities.includes(q) ? 403 : 200;
          const latest = await api('GET', `/v1/latest?device=${d.id}&quantity=${q}`);
          seen.push([reader, d.id, q, 'latest', latest.status, status === 200 ? latest.body : null]);
          want.push([
            reader,
            d.id,
            q,
            'latest',
            status,
            status === 200 ? { devices: latestOf(g, stored, q, [d]) } : null,
          ]);
          const raw = await api<{ readings: Array<{ value: number }> }>(
            'GET',
            `/v1/readings?device=${d.id}&quantity=${q}&from=${iso(A)}&to=${iso(until)}`,
          );
          const values = stored
            .filter((r) => r.device === d.id && r.quantity === q && covered(g, r))
            .map((r) => r.value);
          seen.push([
            reader,
            d.id,
            q,
            'readings',
            raw.status,
            status === 200 ? raw.body.readings.map((r) => r.value) : null,
          ]);
          want.push([reader, d.id, q, 'readings', status, status === 200 ? values : null]);
        }
    }
    expect(seen).toStrictEqual(want);
  });

  it('narrows latest values by a bounding box inside the query, within the grant', async () => {
    const api = await h.as('parks', ['read']);
    // Watch what the API sends to InfluxDB (the real client, wrapped).
    const influx = h.platform.influx;
    const query = influx.query.bind(influx);
    const sent: string[] = [];
    influx.query = (q, method) => {
      sent.push(q);
      return query(q, method);
    };
    try {
      // Around g-none and g-sued only.
      const res = await api('GET', '/v1/latest?department=environment&quantity=pm10&bbox=9.24,48.39,9.31,48.46');
      expect(res.body).toStrictEqual({
        devices: latestOf(GRANTS.parks, stored, 'pm10', [byId.get('g-none')!, byId.get('g-sued')!]),
      });
    } finally {
      influx.query = query;
    }
    expect(sent).toStrictEqual([
      `SELECT last("value") AS "value" FROM "pm10" WHERE time >= '${iso(w0)}' AND time <= '${iso(w1)}' AND ` +
        `("device" = 'g-none' OR "device" = 'g-sued') AND "department" = 'environment' AND ("device_type" = 'air_quality') GROUP BY "device"`,
    ]);
  });

  it('streams live readings exactly as far as each grant covers (window, type, districts, no district)', async () => {
    const live: Reading[] = [];
    // Distinct and plausible for both quantities (ingest refuses air temperatures above 70 Cel).
    let value = 30;
    // A minute after each stored time: live points never share a time with the stored ones.
    for (const d of DEVICES)
      for (const q of QUANTITIES)
        for (const time of [A, B, C]) {
          live.push({ device: d.id, quantity: q, value, time: time + 60_000 });
          value += 0.25;
        }
    // Last, one reading every reader sees: once it arrived, every earlier one was delivered or filtered.
    const marker: Reading = { device: 'g-nord', quantity: 'pm10', value: 69, time: B + 120_000 };
    live.push(marker);
    const streams = new Map<string, Promise<Array<{ data: string }>>>();
    for (const reader of READERS) {
      const { key } = (
        await h.admin<{ key: string }>('POST', '/v1/keys', {
          name: `sse-${reader}`,
          department: reader,
          scopes: ['read'],
        })
      ).body;
      const res = await fetch(`${h.base}/v1/stream`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      streams.set(reader, readEvents(res, live.filter((r) => covered(GRANTS[reader], r)).length));
    }
    for (const d of DEVICES) {
      const c = credentials.get(d.id)!;
      const client = await connectAsync(`mqtt://127.0.0.1:${h.platform.mqttPort}`, { ...c, reconnectPeriod: 0 });
      clients.push(client);
    }
    const clientOf = (id: string) => clients[DEVICES.findIndex((d) => d.id === id)]!;
    for (const r of live)
      await clientOf(r.device).publishAsync(
        `sus/v1/devices/${r.device}/up`,
        JSON.stringify({ time: r.time, values: { [r.quantity]: r.value } }),
        { qos: 1 },
      );
    for (const reader of READERS) {
      const events = (await streams.get(reader)!).map((e) => JSON.parse(e.data) as { device: string; value: number });
      const expected = live.filter((r) => covered(GRANTS[reader], r)).map((r) => [r.device, r.value]);
      expect([reader, events.map((e) => [e.device, e.value])]).toStrictEqual([reader, expected]);
      expect(events.at(-1)?.value).toBe(marker.value);
    }
    stored.push(...live);
  });

  it('serves an open dataset by the same rule', async () => {
    const g: GrantDef = { quantities: ['pm10'], districts: ['Nord', 'Sued'], deviceTypes: ['air_quality'], to: w1 };
    const envAdmin = await h.as('environment', ['admin']);
    const dataset = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'public',
      title: 'open pm10',
      purpose: 'open data',
      quantities: g.quantities,
      deviceTypes: g.deviceTypes,
      districts: g.districts,
      to: iso(w1),
      expiresAt: iso(Date.now() + HOUR),
    });
    expect(dataset.status).toBe(201);
    // The live readings of the stream test are stored by now (ingest flushes within SUS_WRITE_FLUSH_MS).
    await eventually(
      () =>
        h.admin<{ readings: unknown[] }>(
          'GET',
          `/v1/readings?device=g-nord&quantity=pm10&from=${iso(A)}&to=${iso(until)}`,
        ),
      (r) => r.body.readings?.length === stored.filter((s) => s.device === 'g-nord' && s.quantity === 'pm10').length,
    );
    const anonymous = apiClient(h.base);
    const latest = await anonymous('GET', `/v1/open/datasets/${dataset.body.id}/latest`);
    expect(latest.body).toStrictEqual({ devices: latestOf(g, stored, 'pm10', DEVICES) });
    const agg = await anonymous<{ series: Array<{ group: { device: string }; points: Array<{ value: number }> }> }>(
      'GET',
      `/v1/open/datasets/${dataset.body.id}/aggregate?quantity=pm10&from=${iso(A)}&to=${iso(until)}&every=1h&fn=count&groupBy=device`,
    );
    const counts: Record<string, number> = {};
    for (const r of stored) if (r.quantity === 'pm10' && covered(g, r)) counts[r.device] = (counts[r.device] ?? 0) + 1;
    expect(
      Object.fromEntries(agg.body.series.map((s) => [s.group.device, s.points.reduce((n, p) => n + p.value, 0)])),
    ).toStrictEqual(counts);
  });
});
