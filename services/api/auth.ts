import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';
import type { ApiKey, Registry, Scope } from '../registry/index.ts';

/** What a route declares in `config.scope`; `public` routes need no key. */
export type RouteScope = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
  interface FastifyRequest {
    principal: ApiKey | null;
  }
}

const KEY_CACHE_MS = 10_000;

/**
 * Bearer API keys. Every route declares its scope; one without a declaration is treated as `admin` so a forgotten
 * declaration fails closed. Keys are cached briefly: a database round trip per request would dominate reads.
 */
export function installAuth(app: FastifyInstance, registry: Registry): (keyId: string) => void {
  const cache = new Map<string, { key: ApiKey | undefined; expires: number }>();
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    // The API lives under /v1; the OpenAPI document and its UI (/docs) are public.
    if (!req.routeOptions.url?.startsWith('/v1/')) return;
    const scope = req.routeOptions.config.scope ?? 'admin';
    if (scope === 'public') return;
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      throw new SusError('SUS_ERR_UNAUTHENTICATED', 'missing API key: send Authorization: Bearer <key>', 401);
    }
    const token = match[1]!;
    const now = Date.now();
    let entry = cache.get(token);
    if (!entry || entry.expires < now) {
      entry = { key: await registry.findApiKey(token), expires: now + KEY_CACHE_MS };
      if (cache.size > 10_000) cache.clear();
      cache.set(token, entry);
    }
    if (!entry.key) throw new SusError('SUS_ERR_UNAUTHENTICATED', 'unknown or revoked API key', 401);
    if (!hasScope(entry.key, scope)) {
      throw new SusError(
        'SUS_ERR_FORBIDDEN',
        `this route needs the '${scope}' scope; the key has ${entry.key.scopes.join(', ')}`,
        403,
      );
    }
    req.principal = entry.key;
  });
  return (keyId) => {
    for (const [token, entry] of cache) if (entry.key?.id === keyId) cache.delete(token);
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
