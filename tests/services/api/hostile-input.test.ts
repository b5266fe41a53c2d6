import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_ID_PATTERN } from '../../../services/common/topics.ts';
import { TEST_ADMIN_KEY } from '../../helpers/env.ts';
import { type Harness, startHarness } from './harness.ts';

interface Problem {
  type: string;
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

const DEVICE_ID = 'lowercase letters, digits, _ . - (1–64 characters, starting with a letter or digit)';

/** One request over a raw socket, for bytes fetch() refuses to send; answers the status line, type and body. */
function rawRequest(port: number, request: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request, 'latin1'));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const type = /^content-type:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '';
      resolve({ status: Number(head.split(' ')[1]), type, body });
    });
  });
}

/** Each request [method, path, body, field, message] answers 400 SUS_ERR_VALIDATION naming just that field. */
async function expectRefused(h: Harness, cases: Array<[string, string, unknown, string, string]>): Promise<void> {
  for (const [method, path, body, field, message] of cases) {
    const res = await h.admin<Problem>(method, path, body);
    expect([path, res.status, res.body.code, res.body.errors]).toStrictEqual([
      path,
      400,
      'SUS_ERR_VALIDATION',
      [{ field, message }],
    ]);
  }
}

describe('hostile identifiers and values: 4xx problems with a catalogued code, never SUS_ERR_INTERNAL', () => {
  let h: Harness;
  beforeAll(async () => {
    // With the broker: HTTP push needs ingest in the process.
    h = await startHarness({}, true);
  });
  afterAll(async () => h?.stop());

  it('answers the six operations of issue 18 with a NUL byte as a 400 naming the field', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['GET', '/v1/devices/%00', 'params.id', DEVICE_ID],
      [
        'GET',
        '/v1/devices?department=%00',
        'querystring.department',
        'lowercase letters, digits, - and _ (2–32 characters)',
      ],
      ['GET', '/v1/device-types/%00', 'params.id', 'lowercase letters, digits and _'],
      ['DELETE', '/v1/devices/%00', 'params.id', DEVICE_ID],
      ['DELETE', '/v1/keys/%00', 'params.id', "an API key id such as 'key_0123456789ab'"],
      ['DELETE', '/v1/grants/%00', 'params.id', "a grant id such as 'grant_0123456789ab'"],
      // Found by the fuzz suite: the report's filters reached the registry unchecked (500 SUS_ERR_INVALID_VALUE).
      ['GET', '/v1/reports/air-quality?year=2026&device=%00', 'querystring.device', DEVICE_ID],
    ];
    for (const [method, path, field, message] of cases) {
      const res = await h.admin<Problem>(method, path);
      expect([method, path, res.status, res.type, res.body]).toStrictEqual([
        method,
        path,
        400,
        'application/problem+json; charset=utf-8',
        {
          type: '/docs/errors.md#sus_err_validation',
          title: 'Bad Request',
          status: 400,
          code: 'SUS_ERR_VALIDATION',
          detail: `${field}: ${message}`,
          errors: [{ field, message }],
        },
      ]);
    }
  });

  it('refuses control characters, line breaks and lone surrogates in names and tag values where they enter', async () => {
    const cases: Array<[string, string, unknown, string, string]> = [
      [
        'POST',
        '/v1/devices',
        { name: 'a', type: 'air_quality', department: 'environment', district: 'x\npm2_5' },
        'body.district',
        'must not contain a line break',
      ],
      [
        'POST',
        '/v1/devices',
        { name: 'a\u0000b', type: 'air_quality', department: 'environment' },
        'body.name',
        'must not contain a NUL character',
      ],
      [
        'POST',
        '/v1/devices',
        { name: 'a', type: 'air_quality', department: 'environment', district: ' Nord' },
        'body.district',
        'must not start or end with white space',
      ],
      [
        'POST',
        '/v1/claims',
        { type: 'air_quality', department: 'environment', district: 'No\rrd' },
        'body.district',
        'must not contain a line break',
      ],
      [
        'POST',
        '/v1/device-types',
        { id: 'hostile_type', name: 'x\u001b[31m' },
        'body.name',
        'must not contain control characters (U+001B)',
      ],
      [
        'POST',
        '/v1/device-types',
        { id: 'hostile_type', name: 'x', description: 'a\ud800' },
        'body.description',
        'must be well-formed Unicode (a lone surrogate)',
      ],
      ['POST', '/v1/departments', { id: 'nuldept', name: 'N\u0000' }, 'body.name', 'must not contain a NUL character'],
      [
        'GET',
        '/v1/latest?department=environment&district=a%0Ab',
        undefined,
        'querystring.district',
        'must not contain a line break',
      ],
    ];
    await expectRefused(h, cases);
  });

  it('refuses times InfluxDB cannot hold and windows beyond ten years (they answered 502 from InfluxDB)', async () => {
    const range = 'between 1678-01-01 and 2262-01-01 (the range InfluxDB stores)';
    const cases: Array<[string, string, unknown, string, string]> = [
      ['GET', '/v1/readings?department=environment&from=1677-09-21T00:12:43Z', undefined, 'querystring.from', range],
      ['GET', '/v1/readings?department=environment&to=9999-12-31T23:59:59Z', undefined, 'querystring.to', range],
      [
        'GET',
        '/v1/readings/aggregate?department=environment&quantity=pm2_5&every=99999999999d',
        undefined,
        'querystring.every',
        'between 1s and 3660d',
      ],
      [
        'POST',
        '/v1/grants',
        {
          owner: 'environment',
          grantee: 'traffic',
          title: 't',
          purpose: 'p',
          quantities: ['pm2_5'],
          from: '0001-01-01T00:00:00Z',
          expiresAt: '2100-01-01T00:00:00Z',
        },
        'body.from',
        range,
      ],
    ];
    await expectRefused(h, cases);
  });

  it('files a pushed payload that names a device id outside the grammar as an unknown device, not an internal error', async () => {
    const res = await fetch(`${h.base}/v1/ingest/ttn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: JSON.stringify({
        end_device_ids: { device_id: 'a\u0000b' },
        uplink_message: { decoded_payload: { pm2_5: 1 } },
      }),
    });
    const body = (await res.json()) as Problem & { rejected: unknown };
    expect([res.status, body.code, body.rejected]).toStrictEqual([
      422,
      'SUS_ERR_INGEST_REJECTED',
      [{ code: 'INGEST_UNKNOWN_DEVICE', message: "device 'a\u0000b' is not registered" }],
    ]);
  });

  it('chooses device ids within the id grammar even for the longest type name, so the device can be addressed', async () => {
    const type = `t${'x'.repeat(63)}`;
    const res = await h.admin<{ device: { id: string } }>('POST', '/v1/devices', {
      name: 'long type',
      type,
      department: 'environment',
    });
    const id = res.body.device.id;
    expect([res.status, DEVICE_ID_PATTERN.test(id), id.startsWith(`t${'x'.repeat(54)}-`)]).toStrictEqual([
      201,
      true,
      true,
    ]);
    expect((await h.admin('GET', `/v1/devices/${id}`)).status).toBe(200);
    await h.admin('DELETE', `/v1/devices/${id}`);
  });

  it('refuses a JSON document nested 5,000 deep or holding a NUL before PostgreSQL sees it', async () => {
    // PGlite's jsonb parser crashes the whole process (a V8 fatal error) on a document nested 5,000 deep.
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const raw = await fetch(`${h.base}/v1/device-types`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: `{"id":"deep_type","name":"deep","profile":{"deep":${deep}}}`,
    });
    const res = { status: raw.status, body: (await raw.json()) as Problem };
    expect([res.status, res.body.errors]).toStrictEqual([
      400,
      [{ field: 'body.profile', message: 'must not be nested deeper than 32 levels' }],
    ]);
    const nul = await h.admin<Problem>('POST', '/v1/device-types', {
      id: 'nul_type',
      name: 'nul',
      profile: { 'a\u0000': 1 },
    });
    expect([nul.status, nul.body.errors]).toStrictEqual([
      400,
      [{ field: 'body.profile', message: 'keys must not contain a NUL character' }],
    ]);
    expect((await h.admin('GET', '/v1/health')).status).toBe(200);
  });

  it('refuses hostile rows of the CSV import by line and field, importing nothing', async () => {
    const res = await fetch(`${h.base}/v1/devices/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: 'id,name,department,type,district\nok-1,One,environment,air_quality,Nord\nbad-2,Two,environment,air_quality,"x\npm2_5"\n',
    });
    const body = (await res.json()) as Problem;
    expect([res.status, body.code, body.errors]).toStrictEqual([
      400,
      'SUS_ERR_IMPORT_INVALID',
      [{ field: 'district', message: 'must not contain a line break', line: 4 }],
    ]);
    expect((await h.admin('GET', '/v1/devices/ok-1')).status).toBe(404);
  });

  it("answers Fastify's and Node's own refusals as problems with catalogued codes", async () => {
    const port = h.platform.httpPort!;
    const badUrl = await h.admin<Problem>('GET', '/v1/devices/%ZZ');
    expect([badUrl.status, badUrl.type, badUrl.body.code, badUrl.body.type]).toStrictEqual([
      400,
      'application/problem+json; charset=utf-8',
      'SUS_ERR_BAD_REQUEST',
      '/docs/errors.md#sus_err_bad_request',
    ]);
    const longParam = await h.admin<Problem>('GET', `/v1/devices/${'a'.repeat(5000)}`);
    expect([longParam.status, longParam.body.code]).toStrictEqual([414, 'SUS_ERR_URI_TOO_LONG']);
    const malformed = await fetch(`${h.base}/v1/departments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: '{"id": ',
    });
    expect([malformed.status, ((await malformed.json()) as Problem).code]).toStrictEqual([
      400,
      'SUS_ERR_MALFORMED_BODY',
    ]);
    const xml = await fetch(`${h.base}/v1/departments`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml', authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: '<a/>',
    });
    expect([xml.status, ((await xml.json()) as Problem).code]).toStrictEqual([415, 'SUS_ERR_UNSUPPORTED_MEDIA_TYPE']);
    const ctl = await rawRequest(port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Evil: a\u0001b\r\n\r\n');
    expect([ctl.status, ctl.type, (JSON.parse(ctl.body) as Problem).code]).toStrictEqual([
      400,
      'application/problem+json; charset=utf-8',
      'SUS_ERR_BAD_REQUEST',
    ]);
    const huge = await rawRequest(port, `GET /v1/health?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect([huge.status, (JSON.parse(huge.body) as Problem).code]).toStrictEqual([431, 'SUS_ERR_HEADERS_TOO_LARGE']);
  });

  it('serves the error catalogue at the path every problem type names', async () => {
    const res = await fetch(`${h.base}/docs/errors.md`);
    const text = await res.text();
    expect([res.status, res.headers.get('content-type')]).toStrictEqual([200, 'text/markdown; charset=utf-8']);
    expect(text).toContain('\n## SUS_ERR_VALIDATION\n');
  });
});
