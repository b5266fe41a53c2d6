import type { RawRequest } from './raw-http.ts';
import type { Rng } from './rng.ts';

/** The parts of an OpenAPI 3 document the fuzzer reads: operations, their parameters and request bodies. */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  nullable?: boolean;
  $ref?: string;
}
interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Who sends a request: no key, a key that does not exist, or one of the fixture's real keys. */
export type Role = 'anonymous' | 'bogus-key' | 'platform-admin' | 'own-admin' | 'own-read' | 'other-write';

export interface FuzzFixture {
  keys: Record<Exclude<Role, 'anonymous' | 'bogus-key'>, string>;
  /** Valid values by pool name (devices, departments, keys, grants, … of every department, the caller's or not). */
  pools: Record<string, string[]>;
  /**
   * Bodies for an operation whose document declares none (the ingest push takes raw payloads): given the operation
   * and its path values, a seeded payload, or undefined for the generic hostile bodies.
   */
  payload?: (operation: string, pathValues: Record<string, string>, rng: Rng) => Buffer | undefined;
}

export interface FuzzCase {
  /** `METHOD /path/{template}` of the OpenAPI document. */
  operation: string;
  role: Role;
  /** What was made hostile, for the report. */
  mutation: string;
  request: RawRequest;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDoc): Array<{ method: string; path: string; op: Operation }> {
  const out: Array<{ method: string; path: string; op: Operation }> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) if (METHODS.has(method)) out.push({ method, path, op });
  }
  return out;
}

const deepBrackets = (n: number, open = '[', close = ']') => `${open.repeat(n)}${close.repeat(n)}`;

/** Seeded hostile strings: NUL and control characters, line breaks, broken Unicode, huge and odd numbers, impossible
 * dates, long strings, nesting, injection attempts and prototype keys. */
export const HOSTILE_STRINGS: readonly string[] = [
  '\u0000',
  'a\u0000b',
  '\u0001\u0002\u001f\u007f',
  '\u0085\u009b',
  '\r\n',
  'x\npm2_5',
  'x\rdevice=evil',
  'tab\there',
  '\u2028\u2029',
  '\ud800',
  'a\udc00b',
  '\ufeffbom',
  '\u202eevil',
  '😀'.repeat(40),
  '',
  ' ',
  ' Nord ',
  'a'.repeat(65),
  'a'.repeat(5000),
  deepBrackets(5000),
  deepBrackets(5000, '{"a":', '}'),
  '1e308',
  '-1e309',
  '9007199254740993',
  '99999999999999999999999999',
  '-1',
  '0',
  '-0',
  'NaN',
  'Infinity',
  '0x10',
  '1.5',
  '2024-02-30T00:00:00Z',
  '0000-00-00T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '-271821-04-20T00:00:00Z',
  '2024-01-01T25:61:61Z',
  '99999999999999',
  '0000000000',
  '1677-09-21T00:12:43Z',
  "'; DROP TABLE devices; --",
  "' OR '1'='1",
  '" OR 1=1 --',
  '\\',
  'x\\',
  "x' OR device =~ /.*/ --",
  '/.*/',
  '$(id)',
  `\${jndi:ldap://x}`,
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '=cmd|" /C calc"!A0',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'public',
  'key_000000000000',
  'grant_000000000000',
  'PM2.5',
  'pm2_5,pm10,,,',
  '1,2,3,4',
  '-999,-999,999,999',
  '.,.,.,.',
  '0s',
  '99999999999d',
  '1w',
];

/** JSON values of every type, for body fields: wrong types, extremes, nesting, prototype keys. */
function hostileJson(rng: Rng): { value: unknown; raw?: string } {
  switch (rng.int(14)) {
    case 0:
      return { value: null };
    case 1:
      return { value: rng.chance(0.5) };
    case 2:
      return { value: rng.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MIN_VALUE]) };
    case 3:
      return { value: [] };
    case 4:
      return { value: {} };
    case 5:
      return { value: [rng.pick(HOSTILE_STRINGS)] };
    case 6:
      // JSON.parse builds a real own property named __proto__.
      return { value: undefined, raw: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}' };
    case 7:
      return { value: undefined, raw: deepBrackets(5000) };
    case 8:
      return { value: undefined, raw: '1e999' };
    case 9:
      return { value: Array.from({ length: 1000 }, (_, i) => `v${i}`) };
    default:
      return { value: rng.pick(HOSTILE_STRINGS) };
  }
}

/** Whole bodies that are not what their Content-Type says, or are extreme for it. */
function hostileBody(rng: Rng): Buffer {
  switch (rng.int(10)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from('{"a":');
    case 2:
      return Buffer.from(deepBrackets(5000));
    case 3:
      return Buffer.from(deepBrackets(5000, '{"a":', '}'));
    case 4:
      return rng.bytes(rng.int(512));
    case 5:
      return Buffer.from('null');
    case 6:
      return Buffer.from(`"${'a'.repeat(100_000)}"`);
    case 7:
      return Buffer.from(`[${Array.from({ length: 5000 }, () => '{}').join(',')}]`);
    case 8:
      return Buffer.from('\u0000\u0000\u0000');
    default:
      return Buffer.from(`id,name\n${'"'.repeat(3)}\u0000,\r\n`);
  }
}

const CONTENT_TYPES = [
  'application/json',
  'text/csv',
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/cbor',
  'application/senml+json',
  'application/json; charset=utf-16',
  'application/json\u0000',
  '',
];
const ACCEPTS = [
  'text/csv',
  'application/geo+json',
  'image/png',
  'image/svg+xml',
  '*/*',
  'text/event-stream',
  '\u0001',
];

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as any client's encoder makes it). */
function encode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
/** Path segments sent as they are, not encoded: what a careless or hostile client puts on the wire. */
const RAW_SEGMENTS = ['%00', '%ZZ', '%', '..', '%2e%2e', '%2F', 'a%0Ab', '%E0%80%80', '%C0%AF', '*', ';x=1'];

export class CaseBuilder {
  private readonly refs: Record<string, Schema>;

  constructor(
    doc: OpenApiDoc,
    private readonly fixture: FuzzFixture,
  ) {
    this.refs = doc.components?.schemas ?? {};
  }

  private resolve(s: Schema | undefined): Schema {
    let schema = s ?? {};
    for (let i = 0; schema.$ref && i < 10; i++) schema = this.refs[schema.$ref.split('/').pop() ?? ''] ?? {};
    return schema;
  }

  /** The fixture pool a parameter or field draws valid values from, by its name (and the path, for `id`). */
  private pool(name: string, path: string): string[] | undefined {
    const p = this.fixture.pools;
    if (name === 'id') {
      if (path.startsWith('/v1/device-types')) return p.deviceType;
      if (path.startsWith('/v1/devices')) return p.device;
      if (path.startsWith('/v1/keys')) return p.keyId;
      if (path.startsWith('/v1/grants')) return p.grantId;
      if (path.startsWith('/v1/open/datasets')) return p.datasetId;
      if (path.startsWith('/v1/dead-letters')) return p.deadLetterId;
      if (path === '/v1/devices' || path === '/v1/provision/claim') return p.device;
      return undefined;
    }
    return p[name];
  }

  /** A value the schema accepts (as far as the fixture knows), so a single hostile field gets past the others. */
  valid(schema: Schema | undefined, name: string, path: string, rng: Rng): unknown {
    const s = this.resolve(schema);
    const pool = this.pool(name, path);
    if (s.type === 'array' || s.items) {
      const n = Math.max(1, s.minItems ?? 1);
      return Array.from({ length: n }, () => this.valid(s.items, name, path, rng));
    }
    if (pool && pool.length > 0) return rng.pick(pool);
    if (s.enum) return rng.pick(s.enum);
    const branches = s.anyOf ?? s.oneOf;
    if (branches) return this.valid(rng.pick(branches), name, path, rng);
    if (s.allOf?.[0]) return this.valid(s.allOf[0], name, path, rng);
    if (s.format === 'date-time') return new Date(Date.now() + 3600_000).toISOString();
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    if (type === 'integer' || type === 'number') return Math.max(s.minimum ?? 1, Math.min(s.maximum ?? 60, 60));
    if (type === 'boolean') return true;
    if (type === 'object' || s.properties) {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(s.properties ?? {})) {
        if ((s.required ?? []).includes(k) || rng.chance(0.5)) out[k] = this.valid(child, k, path, rng);
      }
      return out;
    }
    if (s.pattern) {
      const re = new RegExp(s.pattern);
      const found = Object.values(this.fixture.pools)
        .flat()
        .find((v) => re.test(v));
      if (found !== undefined) return found;
    }
    return 'fuzz';
  }

  private hostileParam(rng: Rng): { value: string; raw: boolean } {
    if (rng.chance(0.1)) return { value: rng.pick(RAW_SEGMENTS), raw: true };
    return { value: rng.pick(HOSTILE_STRINGS), raw: false };
  }

  private authHeader(role: Role, rng: Rng): Array<[string, string]> {
    if (role === 'anonymous') return [];
    if (role === 'bogus-key') {
      const bogus = rng.pick([
        'Bearer sus_this_key_does_not_exist_0000000000',
        'Bearer ',
        'bearer  sus_x',
        'Basic YWRtaW46YWRtaW4=',
        `Bearer ${'k'.repeat(5000)}`,
        'Bearer \u0000',
        'Bearer a\u0001b',
      ]);
      return [['Authorization', bogus]];
    }
    return [['Authorization', `Bearer ${this.fixture.keys[role]}`]];
  }

  /** One seeded request for an operation: valid values everywhere but where the mutation puts hostile ones. */
  build(method: string, path: string, op: Operation, rng: Rng): FuzzCase {
    const role = rng.pick<Role>([
      'anonymous',
      'bogus-key',
      'platform-admin',
      'own-admin',
      'own-admin',
      'own-read',
      'other-write',
    ]);
    const params = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header');
    const bodyTypes = Object.keys(op.requestBody?.content ?? {});
    const sendsBody = method !== 'get' && method !== 'delete';
    // The field to make hostile: a parameter, a body field, the whole body, a header, or nothing (a valid request).
    const targets = [...params.map((p) => `${p.in}:${p.name}`), 'header', 'none'];
    if (sendsBody) targets.push('body', 'body-field', 'body-field', 'content-type');
    const target = rng.pick(targets);
    const allHostile = rng.chance(0.1);
    const mutations: string[] = [];

    let urlPath = path;
    const pathValues: Record<string, string> = {};
    const query: string[] = [];
    const headers: Array<[string, string]> = this.authHeader(role, rng);
    for (const p of params) {
      const hostile = allHostile || target === `${p.in}:${p.name}`;
      const include = p.in === 'path' || p.required || hostile || rng.chance(0.5);
      if (!include) continue;
      let value: string;
      let raw = false;
      if (hostile) {
        ({ value, raw } = this.hostileParam(rng));
        mutations.push(`${p.in}.${p.name}=${JSON.stringify(value.slice(0, 40))}`);
      } else {
        value = String(this.valid(p.schema, p.name, path, rng));
      }
      const wire = raw ? value : encode(value);
      if (p.in === 'path') {
        urlPath = urlPath.replace(`{${p.name}}`, wire);
        pathValues[p.name] = value;
      } else if (p.in === 'query') query.push(`${encode(p.name)}=${wire}`);
      else headers.push([p.name, value]);
    }
    if (target === 'header' || allHostile) {
      const [name, value] = rng.pick<[string, string]>([
        ['Accept', rng.pick(ACCEPTS)],
        ['Last-Event-ID', rng.pick(HOSTILE_STRINGS.filter((s) => !/[\r\n]/.test(s)))],
        ['X-Forwarded-For', '\u0000'],
        ['X-Fuzz', 'a\u0001b'],
        ['Accept-Encoding', 'gzip;q=\u0000'],
        ['Accept', 'text/csv'],
        ['Accept', 'application/geo+json'],
      ]);
      headers.push([name, value]);
      mutations.push(`header ${name}=${JSON.stringify(value.slice(0, 40))}`);
    }
    if (rng.chance(0.05)) {
      // Repeated and unknown query keys: arrays where strings are expected, prototype names.
      query.push(
        rng.pick(['department=a&department=b', '__proto__[admin]=1', 'constructor=x', `x=${'y'.repeat(3000)}`]),
      );
      mutations.push('query extras');
    }

    let body: Buffer | undefined;
    if (sendsBody) {
      let contentType =
        bodyTypes.length > 0 ? rng.pick(bodyTypes) : rng.pick(['application/json', 'application/octet-stream']);
      if (target === 'content-type' || allHostile) {
        contentType = rng.pick(CONTENT_TYPES);
        mutations.push(`content-type=${JSON.stringify(contentType)}`);
      }
      const schema = this.resolve(op.requestBody?.content?.[contentType]?.schema);
      const payload = this.fixture.payload?.(`${method.toUpperCase()} ${path}`, pathValues, rng);
      if (target === 'body' || allHostile) {
        body = hostileBody(rng);
        mutations.push(`body (${body.length} bytes)`);
      } else if (payload !== undefined) {
        body = payload;
        mutations.push(`payload (${body.length} bytes)`);
      } else if (contentType === 'text/csv') {
        body = Buffer.from(this.csv(rng, target === 'body-field'));
        if (target === 'body-field') mutations.push('csv field');
      } else {
        const doc = (schema.properties ? this.valid(schema, '', path, rng) : {}) as Record<string, unknown>;
        let text = JSON.stringify(doc);
        if (target === 'body-field') {
          const fields = Object.keys(schema.properties ?? {});
          const field = fields.length > 0 ? rng.pick(fields) : 'x';
          const { value, raw } = hostileJson(rng);
          if (raw !== undefined) {
            const rest = JSON.stringify({ ...doc, [field]: 0 });
            text = rest.replace(`"${field}":0`, `"${field}":${raw}`);
          } else text = JSON.stringify({ ...doc, [field]: value });
          mutations.push(`body.${field}=${(raw ?? JSON.stringify(value) ?? 'undefined').slice(0, 40)}`);
        }
        body = Buffer.from(text, 'utf8');
      }
      if (contentType !== '') headers.push(['Content-Type', contentType]);
    }
    const target_ = query.length > 0 ? `${urlPath}?${query.join('&')}` : urlPath;
    return {
      operation: `${method.toUpperCase()} ${path}`,
      role,
      mutation: mutations.join('; ') || 'none (valid values)',
      request: { method: method.toUpperCase(), target: target_, headers, ...(body === undefined ? {} : { body }) },
    };
  }

  /** A device CSV (id,name,department,type,district,lat,lon) with one hostile cell when asked. */
  private csv(rng: Rng, hostile: boolean): string {
    const p = this.fixture.pools;
    const cells = [
      `fz-${rng.int(1e9).toString(36)}`,
      'Fuzz',
      rng.pick(p.department ?? ['environment']),
      rng.pick(p.type ?? ['air_quality']),
      rng.pick(p.district ?? ['Nord']),
      '48.5',
      '9.2',
    ];
    if (hostile) {
      const v = rng.pick(HOSTILE_STRINGS);
      cells[rng.int(cells.length)] = `"${v.replace(/"/g, '""')}"`;
    }
    return `id,name,department,type,district,lat,lon\n${cells.join(',')}\n`;
  }
}
