import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { installProblemHandlers } from '../../services/api/problem.ts';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { FORMATS } from '../../services/common/uplink.ts';
import { apiClient } from '../helpers/api-client.ts';
import { TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import type { FuzzFixture, OpenApiDoc } from './http-cases.ts';
import { describeFailures, fuzzHttp } from './http-fuzz.ts';
import { type FuzzDevices, payloadFor } from './mqtt-payloads.ts';
import { fuzzSettings } from './rng.ts';

const { seed: SEED, rounds: ROUNDS } = fuzzSettings(18);
const MIN_REQUESTS = 5000;
const MAX_MS = 2000;
/** Starting a whole platform while the rest of the suite starts too took over a minute on the shared machine. */
const START_TIMEOUT_MS = 180_000;

/** Departments, devices, keys, grants, readings, dead letters and a claim code the hostile requests aim at. */
async function seedFixture(base: string): Promise<FuzzFixture> {
  const admin = apiClient(base, TEST_ADMIN_KEY);
  const ok = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await admin<T>(method, path, body);
    if (res.status >= 300) throw new Error(`fixture ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  for (const id of ['environment', 'traffic']) await ok('POST', '/v1/departments', { id, name: id });
  await ok('POST', '/v1/device-types', { id: 'air_quality', name: 'AQ', quantities: ['pm2_5', 'air_temperature'] });
  for (const [id, department, district] of [
    ['aq-env-1', 'environment', 'Nord'],
    ['aq-env-2', 'environment', 'Altstadt'],
    ['aq-tra-1', 'traffic', 'Nord'],
  ] as const)
    await ok('POST', '/v1/devices', { id, name: id, department, type: 'air_quality', district, lat: 48.5, lon: 9.2 });
  const key = async (department: string, scopes: string[]) =>
    ok<{ key: string; record: { id: string } }>('POST', '/v1/keys', { name: `fuzz ${department}`, department, scopes });
  const ownAdmin = await key('environment', ['admin']);
  const ownRead = await key('environment', ['read']);
  const otherWrite = await key('traffic', ['write', 'read']);
  // Keys the fuzzer may revoke: never the ones it acts with.
  const victims = [await key('environment', ['read']), await key('traffic', ['read'])];
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const shared = await ok<{ id: string }>('POST', '/v1/grants', {
    owner: 'traffic',
    grantee: 'environment',
    title: 'PM for environment',
    purpose: 'fuzz',
    quantities: ['pm2_5'],
    expiresAt,
  });
  const open = await ok<{ id: string }>('POST', '/v1/grants', {
    owner: 'traffic',
    grantee: 'public',
    title: 'Open PM',
    purpose: 'fuzz',
    quantities: ['pm2_5'],
    expiresAt,
  });
  const push = (device: string, body: string) =>
    fetch(`${base}/v1/ingest/canonical?device=${device}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body,
    }).then((r) => r.json() as Promise<{ deadLetterId: number | null }>);
  for (const device of ['aq-env-1', 'aq-tra-1']) await push(device, JSON.stringify({ values: { pm2_5: 12.5 } }));
  const deadLetters = [await push('aq-env-1', '{broken'), await push('aq-tra-1', '{"values":{"warp":1}}')];
  await ok('PUT', '/v1/devices/aq-env-1/config', { config: { interval: 60 } });
  const claim = await ok<{ code: string }>('POST', '/v1/claims', { department: 'environment', type: 'air_quality' });
  const now = Date.now();
  const devices: FuzzDevices = { plain: 'aq-env-1', devEui: '0011223344556677', esp: 'esp8266-12345' };
  return {
    // The push route takes raw payloads of its format: the MQTT fuzzer's seeded payloads, hostile ones included.
    payload: (operation, values, rng) =>
      operation === 'POST /v1/ingest/{format}' && (FORMATS as readonly string[]).includes(values.format ?? '')
        ? payloadFor(values.format === 'canonical' ? 'up' : `up/${values.format}`, devices, rng, now, 64 * 1024).payload
        : undefined,
    keys: {
      'platform-admin': TEST_ADMIN_KEY,
      'own-admin': ownAdmin.key,
      'own-read': ownRead.key,
      'other-write': otherWrite.key,
    },
    pools: {
      device: ['aq-env-1', 'aq-env-2', 'aq-tra-1', 'no-such-device'],
      department: ['environment', 'traffic'],
      owner: ['environment', 'traffic'],
      grantee: ['environment', 'traffic', 'public'],
      deviceType: ['air_quality'],
      type: ['air_quality'],
      deviceTypes: ['air_quality'],
      quantity: ['pm2_5', 'air_temperature', 'PM2.5', 'pm2_5,air_temperature'],
      quantities: ['pm2_5', 'air_temperature'],
      district: ['Nord', 'Altstadt'],
      districts: ['Nord', 'Altstadt'],
      keyId: [...victims.map((v) => v.record.id), 'key_000000000000'],
      grantId: [shared.id, open.id, 'grant_000000000000'],
      datasetId: [open.id, shared.id],
      deadLetterId: [...deadLetters.map((d) => String(d.deadLetterId)), '999999'],
      code: [claim.code],
      every: ['1h', '15m'],
      from: [new Date(now - 3600_000).toISOString(), String(now - 3600_000)],
      to: [new Date(now).toISOString()],
      since: [new Date(now - 3600_000).toISOString()],
      expiresAt: [expiresAt],
      name: ['Fuzz'],
      title: ['Fuzz'],
      purpose: ['Fuzz'],
      licence: ['CC-BY-4.0'],
      bbox: ['9,48,10,49'],
      reason: ['INGEST_MALFORMED_JSON'],
      source: ['http', 'mqtt'],
      limit: ['10'],
      before: ['1000'],
      lastEventId: ['0'],
    },
  };
}

describe('HTTP fuzz: every operation of the served OpenAPI document with seeded hostile input', () => {
  let platform: Platform;
  let base: string;
  beforeAll(async () => {
    // A generous rate limit: the fuzzer means to reach the routes, not the limiter (which has its own tests).
    platform = await startPlatform(testConfig({ SUS_API_RATE_LIMIT: '100000000' }), silentLogger);
    base = `http://127.0.0.1:${platform.httpPort}`;
  }, START_TIMEOUT_MS);
  afterAll(async () => platform?.stop());

  it(`answers ≥ ${MIN_REQUESTS} hostile requests (seed ${SEED}) with no 5xx, within ${MAX_MS} ms, errors as catalogued problems`, async () => {
    const fixture = await seedFixture(base);
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as OpenApiDoc;
    const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item)).length;
    const started = performance.now();
    const cpu = process.cpuUsage();
    const report = await fuzzHttp({
      port: platform.httpPort!,
      doc,
      fixture,
      seed: SEED,
      rounds: ROUNDS,
      perOperation: Math.ceil(MIN_REQUESTS / operations),
      concurrency: 4,
      maxMs: MAX_MS,
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const used = process.cpuUsage(cpu);
    const cpuSeconds = ((used.user + used.system) / 1e6).toFixed(1);
    console.log(
      `HTTP fuzz: ${report.sent} requests to ${operations} operations in ${seconds} s, ${cpuSeconds} s CPU of this process ` +
        `(seed ${SEED}, ${ROUNDS} round(s)); ` +
        `slowest ${Math.round(report.slowestMs)} ms; by status ${JSON.stringify(report.byStatus)}`,
    );
    expect(report.sent).toBeGreaterThanOrEqual(MIN_REQUESTS * ROUNDS);
    expect(report.failures.length, describeFailures(report.failures)).toBe(0);

    // Healthy afterwards: health answers at once and a plain keyed request still works.
    const t0 = performance.now();
    const health = await fetch(`${base}/v1/health`);
    expect([health.status, performance.now() - t0 < 1000]).toStrictEqual([200, true]);
    expect((await apiClient(base, TEST_ADMIN_KEY)('GET', '/v1/departments')).status).toBe(200);
  }, 300_000);
});

describe('the HTTP fuzzer itself', () => {
  const app = Fastify().withTypeProvider<ZodTypeProvider>();
  beforeAll(async () => {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installProblemHandlers(app);
    await app.register(swagger, {
      openapi: { info: { title: 'broken', version: '1' } },
      transform: jsonSchemaTransform,
    });
    // A deliberately broken route: it throws on any id with a character outside [a-z0-9-].
    app.get('/v1/broken/:id', { schema: { params: z.object({ id: z.string() }) } }, async (req) => {
      if (!/^[a-z0-9-]*$/.test(req.params.id)) throw new TypeError('broken route');
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => app.close());

  it('catches a route that answers 500 and prints a line that reproduces it', async () => {
    const port = (app.server.address() as { port: number }).port;
    const report = await fuzzHttp({
      port,
      doc: app.swagger() as unknown as OpenApiDoc,
      fixture: { keys: { 'platform-admin': 'k', 'own-admin': 'k', 'own-read': 'k', 'other-write': 'k' }, pools: {} },
      seed: SEED,
      rounds: 1,
      perOperation: 60,
      concurrency: 4,
      maxMs: MAX_MS,
    });
    const broken = report.failures.filter((f) => f.operation === 'GET /v1/broken/{id}' && f.why === 'answered 500');
    expect(broken.length).toBeGreaterThan(0);
    expect(describeFailures(broken)).toContain('reproduce: ');
    // The printed line, run in a shell, meets the same 500.
    for (const f of broken.slice(0, 3)) {
      const { stdout } = await promisify(execFile)('bash', ['-c', f.reproduce], { encoding: 'latin1' });
      expect([f.reproduce, stdout.split('\r\n')[0]]).toStrictEqual([f.reproduce, 'HTTP/1.1 500 Internal Server Error']);
    }
  });
});
