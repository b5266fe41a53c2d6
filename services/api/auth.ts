import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';
import type { ApiKey, Registry, Scope } from '../registry/index.ts';
import { CSRF_HEADER, type SessionStore, sessionIdOf } from './session.ts';

/**
 * What a route declares in `config.scope`; `public` routes need no key; `read-or-public` routes (the standard
 * interfaces) answer anonymous callers with open data and callers with a read key with what their department sees.
 */
export type RouteScope = Scope | 'public' | 'read-or-public';

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
  interface FastifyRequest {
    principal: ApiKey | null;
    /** The rate-limit bucket this request is charged to: its key's id, else its source address. */
    rateBucket: string;
  }
}

const KEY_CACHE_MS = 10_000;
const KEY_CACHE_MAX = 10_000;
const BEARER = /^Bearer\s+(\S+)\s*$/i;
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RateLimit {
  /** Requests per window per bucket. */
  max: number;
  windowMs: number;
}

/**
 * Bearer API keys and the rate limit, in one hook so the limit sees who is asking: a request is charged to its
 * key's id once the key is known, and to its source address otherwise (anonymous requests, and every attempt with a
 * token not yet known to be valid — so a flood of invented keys from one address is limited like any other
 * traffic, and spelling the header differently does not open a new bucket). Every route declares its scope; one
 * without a declaration is treated as `admin` so a forgotten declaration fails closed. Valid keys are cached
 * briefly: a database round trip per request would dominate reads. A web console session (cookie, see session.ts)
 * is resolved here to the key it was opened with or the principal its OpenID claims made, so it meets the same
 * scope checks and department rules as a key; its unsafe requests must carry the session's CSRF token.
 */
export function installAuth(
  app: FastifyInstance,
  registry: Registry,
  limit: RateLimit,
  sessions: SessionStore,
): (keyId: string) => void {
  // Valid keys only: an invented token must not push real keys out of the cache.
  const cache = new Map<string, { key: ApiKey; expires: number }>();
  const limiter = app.createRateLimit({
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: (req) => req.rateBucket,
  });
  const charge = async (req: FastifyRequest, reply: FastifyReply, bucket: string): Promise<void> => {
    req.rateBucket = bucket;
    const r = await limiter(req);
    if (r.isAllowed) return;
    reply.header('x-ratelimit-limit', r.max);
    reply.header('x-ratelimit-remaining', r.remaining);
    reply.header('x-ratelimit-reset', r.ttlInSeconds);
    if (!r.isExceeded) return;
    reply.header('retry-after', r.ttlInSeconds);
    throw new SusError(
      'SUS_ERR_RATE_LIMITED',
      `rate limit of ${r.max} requests per minute exceeded; retry in ${r.ttlInSeconds} s`,
      429,
    );
  };
  app.decorateRequest('principal', null);
  app.decorateRequest('rateBucket', '');
  app.addHook('onRequest', async (req, reply) => {
    // The matched route, not the raw URL: '/%761/devices' is routed to /v1/devices and must be treated as such.
    const route = req.routeOptions.url;
    const address = `addr:${normalizeIP(req.ip)}`;
    // Known routes outside /v1 (the OpenAPI document and its UI, /metrics) are neither keyed nor limited; requests
    // that match no route are limited by address.
    if (route === undefined) return charge(req, reply, address);
    if (!route.startsWith('/v1/') && !route.startsWith('/sta/')) return;
    const declared = req.routeOptions.config.scope ?? 'admin';
    if (declared === 'public') return charge(req, reply, address);

    let token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    // A console session stands in for the key it was opened with (or the principal its OpenID claims made); an
    // explicit Authorization header wins, so API clients never depend on cookies.
    let key: ApiKey | undefined;
    if (token === undefined) {
      const session = sessions.get(sessionIdOf(req));
      if (session) {
        if (UNSAFE_METHODS.has(req.method) && req.headers[CSRF_HEADER] !== session.csrf) {
          await charge(req, reply, address);
          throw new SusError(
            'SUS_ERR_CSRF',
            `a console session must send its CSRF token in the ${CSRF_HEADER} header to ${req.method} this route`,
            403,
          );
        }
        token = session.apiKey;
        key = session.principal;
      }
    }
    if (token === undefined && key === undefined && declared === 'read-or-public') return charge(req, reply, address);
    const scope = declared === 'read-or-public' ? 'read' : declared;
    if (token === undefined && key === undefined) {
      await charge(req, reply, address);
      throw new SusError(
        'SUS_ERR_UNAUTHENTICATED',
        'missing API key: send Authorization: Bearer <key> (or sign in to the console again)',
        401,
      );
    }
    const now = Date.now();
    const cached = token === undefined ? undefined : cache.get(token);
    if (!key && cached && cached.expires >= now) key = cached.key;
    if (!key && token !== undefined) {
      // A token never seen valid is an authentication attempt of this address, charged before the registry is
      // asked: an address that spent its budget on invented keys costs no database work. A key seen valid before
      // (its cache entry expired) is re-checked without that charge, so it keeps working behind a shared address.
      if (!cached) await charge(req, reply, address);
      key = await registry.keys.find(token);
      if (!key) {
        cache.delete(token);
        throw new SusError('SUS_ERR_UNAUTHENTICATED', 'unknown or revoked API key', 401);
      }
      if (cache.size >= KEY_CACHE_MAX) cache.clear();
      cache.set(token, { key, expires: now + KEY_CACHE_MS });
    }
    if (!key) throw new SusError('SUS_ERR_UNAUTHENTICATED', 'unknown or revoked API key', 401);
    await charge(req, reply, `key:${key.id}`);
    if (!hasScope(key, scope)) {
      throw new SusError(
        'SUS_ERR_FORBIDDEN',
        `this route needs the '${scope}' scope; the key has ${key.scopes.join(', ')}`,
        403,
      );
    }
    req.principal = key;
  });
  return (keyId) => {
    for (const [token, entry] of cache) if (entry.key.id === keyId) cache.delete(token);
  };
}

export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}

/** A department's own scope check for routes that act on a department's resources. */
export function requireDepartment(req: FastifyRequest, department: string): void {
  const own = actingDepartment(req);
  if (own !== undefined && own !== department) {
    throw new SusError('SUS_ERR_FORBIDDEN', `this key acts for department '${own}', not '${department}'`, 403, {
      field: 'department',
    });
  }
}

/**
 * The department a write acts for: the one the body names (`field`), else the key's own. A platform-wide key must
 * name one, a department's key only its own — every write route resolves it here, so their answers agree.
 */
export function targetDepartment(
  req: FastifyRequest,
  named: string | undefined,
  field: 'department' | 'owner',
): string {
  const own = actingDepartment(req);
  const department = named ?? own;
  if (department === undefined)
    throw new SusError('SUS_ERR_VALIDATION', `body.${field} is required for a platform-wide key`, 400, { field });
  if (own !== undefined && own !== department)
    throw new SusError('SUS_ERR_FORBIDDEN', `this key acts for department '${own}', not '${department}'`, 403, {
      field,
    });
  return department;
}

/** Platform-wide operations (departments, every key) need a key without a department. */
export function requirePlatformKey(req: FastifyRequest): void {
  if (req.principal?.department != null) {
    throw new SusError('SUS_ERR_FORBIDDEN', 'this needs a platform-wide key (one without a department)', 403);
  }
}

/** The department a request acts for; undefined for platform-wide keys (they see every department). */
export function actingDepartment(req: FastifyRequest): string | undefined {
  return req.principal?.department ?? undefined;
}
