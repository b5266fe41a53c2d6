import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../registry/index.ts';

/** The roles a person signed in through OpenID Connect can hold; each is a fixed set of API scopes. */
export const ROLES = ['viewer', 'technician', 'department-admin', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** What a role may do, in the API's own scopes: a session is authorised exactly like an API key holding them. */
export const ROLE_SCOPES: Readonly<Record<Role, Scope[]>> = {
  viewer: ['read'],
  technician: ['read', 'provision'],
  'department-admin': ['read', 'write', 'provision', 'admin'],
  operator: ['admin'],
};

export const SESSION_COOKIE = 'sus_session';
export const CSRF_HEADER = 'x-csrf-token';
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** The session id a request's Cookie header names, if well-formed. */
export function sessionIdOf(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return COOKIE_VALUE.test(value) ? value : undefined;
  }
  return undefined;
}

/** Sets (ttlS > 0) or clears the session cookie: httpOnly, SameSite=Strict, Secure behind https. */
export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, id: string, ttlS: number): void {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${ttlS}${secure}`);
}

/** A session id: 256 random bits, the cookie's value; the registry stores only its hash. */
export const newSessionId = () => randomBytes(32).toString('base64url');
export const newCsrfToken = () => randomBytes(24).toString('base64url');

/** The strongest known role a claim value names (a string or a list of strings), if any. */
export function roleOf(claim: unknown): Role | undefined {
  const values = Array.isArray(claim) ? claim : [claim];
  let best = -1;
  for (const v of values) best = Math.max(best, ROLES.indexOf(v as Role));
  return best < 0 ? undefined : ROLES[best];
}
