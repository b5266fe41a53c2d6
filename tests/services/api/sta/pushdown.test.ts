import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../../../services/api/deps.ts';
import { parseOptions } from '../../../../services/api/sta/query-options.ts';
import { StaView } from '../../../../services/api/sta/service.ts';
import { catalogue } from '../../../../services/common/catalogue.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { freshSchema } from '../../../helpers/postgres.ts';
import { type Harness, startHarness } from '../harness.ts';

const FLEET = 10_000;
/** Device n: `pd-00042`, department environment (odd n) or traffic, district by n mod 3, a position unless n mod 7 = 0. */
const idOf = (n: number) => `pd-${String(n).padStart(5, '0')}`;

// The SQL runs on both registries; PostgreSQL needs the shared test server (TEST_DATABASE_URL, set by npm test).
const REGISTRIES = ['PGlite', ...(process.env.TEST_DATABASE_URL ? ['PostgreSQL'] : [])];

describe.each(REGISTRIES)(
  'SensorThings collections are filtered, ordered and paged in the registry (SQL) on %s',
  (registry) => {
    let h: Harness;
    let schema: Awaited<ReturnType<typeof freshSchema>>;
    let sta: string;
    let admin: ReturnType<typeof apiClient>;
    const anon = (path: string) => apiClient('')('GET', `${sta}${path}`);
    /** Rows the registry returned to the API, per statement, while `f` ran. */
    const watch = async <T>(f: () => Promise<T>): Promise<{ result: T; statements: number; rows: number }> => {
      const db = h.platform.registry.db;
      const query = db.query.bind(db);
      let statements = 0;
      let rows = 0;
      db.query = async <R extends object>(sql: string, params?: unknown[]) => {
        const out = await query<R>(sql, params);
        statements++;
        rows += out.length;
        return out;
      };
      try {
        return { result: await f(), statements, rows };
      } finally {
        db.query = query;
      }
    };

    beforeAll(async () => {
      schema = registry === 'PostgreSQL' ? await freshSchema() : undefined;
      h = await startHarness({ SUS_STA_MAX_TOP: '50', ...(schema ? { DATABASE_URL: schema.url } : {}) });
      sta = `${h.base}/sta/v1.1`;
      admin = apiClient(
        '',
        (await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'sta', scopes: ['admin'] })).body.key,
      );
      expect(
        (
          await h.admin('POST', '/v1/device-types', {
            id: 'aq',
            name: 'Air quality station',
            quantities: ['air_temperature', 'pm10'],
            expectedIntervalS: 60,
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await h.admin('POST', '/v1/device-types', {
            id: 'wl',
            name: 'Water level gauge',
            quantities: ['water_level'],
            expectedIntervalS: 600,
          })
        ).status,
      ).toBe(201);
      for (const id of ['wl-1', 'wl-2'])
        expect((await h.admin('POST', '/v1/devices', { id, name: id, department: 'traffic', type: 'wl' })).status).toBe(
          201,
        );
      // Ten thousand devices in one statement: the API's registration hashes a secret per device, which is not what
      // this test is about.
      await h.platform.registry.db.query(
        `INSERT INTO devices (id, name, department_id, type, district, lat, lon, secret_hash, created_at)
       SELECT 'pd-' || lpad(n::text, 5, '0'), 'Station ' || n, CASE WHEN n % 2 = 1 THEN 'environment' ELSE 'traffic' END,
              'aq', (ARRAY['Nord', 'Sued', 'Mitte'])[n % 3 + 1],
              CASE WHEN n % 7 = 0 THEN NULL ELSE 48 + n / 100000.0 END, CASE WHEN n % 7 = 0 THEN NULL ELSE 9 + n / 100000.0 END,
              'x', '2026-01-01T00:00:00Z'
       FROM generate_series(0, $1::int - 1) AS n`,
        [FLEET],
      );
      const envAdmin = await h.as('environment', ['admin']);
      const g = await envAdmin('POST', '/v1/grants', {
        grantee: 'public',
        title: 'Feinstaub Nord',
        purpose: 'open data',
        quantities: ['pm10'],
        districts: ['Nord'],
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
      expect(g.status).toBe(201);
    }, 120_000);
    afterAll(async () => {
      await h?.stop();
      await schema?.drop();
    });

    it('reads only the rows of the page from the registry for a filtered, ordered page of 10,000 Things', async () => {
      const { result, statements, rows } = await watch(() =>
        admin(
          'GET',
          `${sta}/Things?$filter=properties/district eq 'Nord' and startswith(name, 'Station 99')&$orderby=name desc&$top=2&$skip=1&$count=true&$select=id,name`,
        ),
      );
      // Station 99, 990…999, 9900…9999 with n mod 3 = 0 (district Nord): 99, 990, 993, 996, 999, 9900, 9903 … 9999.
      const expected = [99, ...[990, 993, 996, 999], ...Array.from({ length: 34 }, (_, i) => 9900 + 3 * i)]
        .map((n) => `Station ${n}`)
        .sort()
        .reverse();
      expect(result.status).toBe(200);
      expect(result.body).toStrictEqual({
        '@iot.count': expected.length,
        '@iot.nextLink': `${sta}/Things?%24filter=properties%2Fdistrict%20eq%20%27Nord%27%20and%20startswith%28name%2C%20%27Station%2099%27%29&%24orderby=name%20desc&%24top=2&%24count=true&%24select=id%2Cname&%24skip=3`,
        value: expected.slice(1, 3).map((name) => ({ '@iot.id': idOf(Number(name.slice(8))), name })),
      });
      // The page (top + 1 rows), the count, the key lookup, the device types: never the fleet.
      expect(rows).toBeLessThanOrEqual(10);
      expect(statements).toBeLessThanOrEqual(6);
    });

    it('caps $top at SUS_STA_MAX_TOP and pages anonymous Datastreams by @iot.nextLink, each page reading its rows only', async () => {
      // Public: pm10 of environment devices (odd n) in Nord (n mod 3 = 0): n = 3, 9, 15 … below 10,000.
      const visible = Array.from({ length: FLEET }, (_, n) => n).filter((n) => n % 2 === 1 && n % 3 === 0);
      const { result, rows } = await watch(() => anon(`/Datastreams?$top=100000&$count=true&$select=id`));
      expect(result.body).toStrictEqual({
        '@iot.count': visible.length,
        '@iot.nextLink': `${sta}/Datastreams?%24top=100000&%24count=true&%24select=id&%24skip=50`,
        value: visible
          .map((n) => `${idOf(n)}:pm10`)
          .sort()
          .slice(0, 50)
          .map((id) => ({ '@iot.id': id })),
      });
      expect(rows).toBeLessThanOrEqual(51 + 1 + 1 + 1 + 5);
      let next = (result.body as { '@iot.nextLink': string })['@iot.nextLink'];
      const last = Math.floor((visible.length - 1) / 50) * 50;
      next = next.replace('%24skip=50', `%24skip=${last}`);
      const end = await apiClient('')('GET', next);
      expect(end.body).toStrictEqual({
        '@iot.count': visible.length,
        value: visible
          .map((n) => `${idOf(n)}:pm10`)
          .sort()
          .slice(last)
          .map((id) => ({ '@iot.id': id })),
      });
    });

    it('gives the same entities as the evaluation in memory for every kind of filter and order', async () => {
      const devices = await h.platform.registry.listDevices();
      const types = await h.platform.registry.deviceTypes.list();
      const view = StaView.build(
        { catalogue } as unknown as ApiDeps,
        {} as FastifyRequest,
        1_000_000,
        { reader: undefined, grants: [] },
        devices.filter((d) => d.id.startsWith('wl') || Number(d.id.slice(3)) < 300),
        types,
      );
      const cases: Array<[string, string]> = [
        ['Things', `id lt 'pd-00300' and not (properties/district ne 'Nord' and name ne 'Station 7')`],
        ['Things', `id lt 'pd-00300' and not (Locations/location ne null)`],
        ['Things', `id lt 'pd-00300' and properties/district eq null or length(name) add 1 eq 11 and id lt 'pd-00300'`],
        ['Things', `id lt 'pd-00300' and geo.distance(Locations/location, geography'POINT(9.001 48.001)') lt 0.0005`],
        [
          'Things',
          `id lt 'pd-00300' and st_within(Locations/location, geography'POLYGON((9.0005 48.0005, 9.002 48.0005, 9.002 48.002, 9.0005 48.002, 9.0005 48.0005))')`,
        ],
        ['Things', `id lt 'pd-00300' and Datastreams/ObservedProperty/name eq 'pm10' and substringof('12', name)`],
        ['Things', `id lt 'pd-00300' and year(HistoricalLocations/time) eq 2026 and endswith(description, 'Mitte')`],
        [
          'Locations',
          `id lt 'pd-00300' and st_intersects(location, geography'LINESTRING(9.0001 48.0001, 9.003 48.003)')`,
        ],
        [
          'Datastreams',
          `Thing/id lt 'pd-00030' and (ObservedProperty/name eq 'pm10' or unitOfMeasurement/symbol eq 'Cel') and tolower(Thing/name) ne 'station 3'`,
        ],
        ['FeaturesOfInterest', `id lt 'pd-00300' and indexof(name, '5') eq 24`],
        ['Sensors', `properties/expectedIntervalS mod 7 eq 4 and contains(name, 'Air')`],
      ];
      for (const [set, filter] of cases) {
        for (const orderby of ['id', 'name desc,id', 'properties/district,name desc']) {
          const o = parseOptions({ $filter: filter, $orderby: orderby, $top: '1000000' });
          const type = {
            Things: 'Thing',
            Locations: 'Location',
            Datastreams: 'Datastream',
            FeaturesOfInterest: 'FeatureOfInterest',
            Sensors: 'Sensor',
          } as const;
          const want = view.page([...view.set(type[set as keyof typeof type]).values()], o).items.map((e) => e.id);
          // A case that selects nothing (or everything) would prove little.
          expect([
            set,
            filter,
            want.length > 0 && want.length < view.set(type[set as keyof typeof type]).size,
          ]).toStrictEqual([set, filter, true]);
          const res = await admin(
            'GET',
            `${sta}/${set}?$filter=${encodeURIComponent(filter)}&$orderby=${encodeURIComponent(orderby)}&$top=1000&$select=id`,
          );
          expect([set, filter, orderby, res.status]).toStrictEqual([set, filter, orderby, 200]);
          const got = (res.body as { value: Array<{ '@iot.id': string }> }).value.map((v) => v['@iot.id']);
          // Pages of 50 (SUS_STA_MAX_TOP): compare the first page.
          expect([set, filter, orderby, got]).toStrictEqual([set, filter, orderby, want.slice(0, 50)]);
        }
      }
    });

    it('answers 400 with the position of what the registry cannot filter or order', async () => {
      const cases: Array<[string, string, string]> = [
        [
          'Things',
          `$filter=name eq 'x' or Datastreams/Observations/result gt 1`,
          "$filter: 'Datastreams/Observations/result' cannot be filtered in the registry at position 15",
        ],
        [
          'Locations',
          `$filter=geo.distance(location, geography'LINESTRING(9 48, 9.1 48.1)') lt 1`,
          '$filter: geo.distance is computed in the registry to a POINT only at position 0',
        ],
        [
          'Things',
          `$filter=Datastreams/name eq Locations/name`,
          '$filter: an expression over two different collections cannot be filtered at position 17',
        ],
        [
          'Things',
          `$orderby=Datastreams/name`,
          '$orderby: $orderby cannot order by a value of a collection at position 0',
        ],
      ];
      for (const [set, q, message] of cases) {
        const res = await admin('GET', `${sta}/${set}?${q}`);
        expect(res.status).toBe(400);
        expect(res.body).toStrictEqual({
          type: '/docs/errors.md#sus_err_sta_query',
          title: 'Bad Request',
          status: 400,
          code: 'SUS_ERR_STA_QUERY',
          detail: message,
          context: { option: message.slice(0, message.indexOf(':')) },
          error: { code: 'SUS_ERR_STA_QUERY', message },
        });
      }
    });
  },
);
