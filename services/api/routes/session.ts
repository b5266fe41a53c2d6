import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { type ApiKey, type ConsoleSession, SCOPES } from '../../registry/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';
import {
  CSRF_HEADER,
  newCsrfToken,
  newSessionId,
  ROLE_SCOPES,
  ROLES,
  type Role,
  roleOf,
  sessionIdOf,
  setSessionCookie,
} from '../session.ts';
import { pageLanguage, SIGN_IN_FAILURE_CSP, type SignInFailure, signInFailurePage } from '../sign-in-failure.ts';

export const SessionInfoSchema = z
  .object({
    csrf: z.string().describe(`send it in the ${CSRF_HEADER} header of every POST, PUT, PATCH and DELETE`),
    name: z.string(),
    department: z.string().nullable(),
    scopes: z.array(z.enum(SCOPES)),
    role: z.enum(ROLES).nullable(),
    via: z.enum(['api-key', 'oidc']),
  })
  .meta({ id: 'ConsoleSession' });

export const ConsoleSettingsSchema = z
  .object({
    tileUrl: z.string().nullable(),
    tileAttribution: z.string(),
    oidc: z.boolean(),
  })
  .meta({ id: 'ConsoleSettings' });

const PENDING_MS = 10 * 60_000;

const info = (s: ConsoleSession): z.infer<typeof SessionInfoSchema> => ({
  csrf: s.csrf,
  name: s.key.name,
  department: s.key.department,
  scopes: s.key.scopes,
  role: roleOf(s.role) ?? null,
  via: s.via,
});

/**
 * Console sign-in: an API key exchanged for a server-side session, or OpenID Connect (authorization code + PKCE)
 * whose role and department claims become a principal with the role's scopes. The session cookie then authorises
 * requests through the same hook as a key (services/api/auth.ts).
 */
export const sessionRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const c = deps.config;
    const sessions = deps.registry.sessions;
    const ttlS = c.SUS_SESSION_TTL_S;
    let discovered: Promise<oidc.Configuration> | undefined;
    const provider = (): Promise<oidc.Configuration> => {
      if (!c.SUS_OIDC_ISSUER || !c.SUS_OIDC_CLIENT_ID)
        throw new SusError('SUS_ERR_OIDC_DISABLED', 'OpenID Connect sign-in is not configured: use an API key', 404);
      // Discovered on first use, so the platform starts while the identity provider is away; a failure is retried.
      discovered ??= oidc
        .discovery(
          new URL(c.SUS_OIDC_ISSUER),
          c.SUS_OIDC_CLIENT_ID,
          c.SUS_OIDC_CLIENT_SECRET,
          c.SUS_OIDC_CLIENT_SECRET === undefined ? oidc.None() : undefined,
          // A plain-http issuer is a test or lab set-up; openid-client refuses it unless told.
          c.SUS_OIDC_ISSUER.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : undefined,
        )
        .catch((err: unknown) => {
          discovered = undefined;
          throw new SusError('SUS_ERR_OIDC_SIGN_IN', `identity provider unreachable: ${(err as Error).message}`, 403);
        });
      return discovered;
    };

    const open = async (
      req: FastifyRequest,
      reply: FastifyReply,
      s: { key: ApiKey; role?: Role },
    ): Promise<ConsoleSession> => {
      const id = newSessionId();
      const csrf = newCsrfToken();
      const ttlMs = ttlS * 1000;
      await sessions.open(
        id,
        s.role === undefined ? { apiKeyId: s.key.id, csrf, ttlMs } : { principal: s.key, role: s.role, csrf, ttlMs },
      );
      setSessionCookie(req, reply, id, ttlS);
      const via = s.role === undefined ? 'api-key' : 'oidc';
      return { key: s.key, csrf, role: s.role ?? null, via, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
    };

    app.get(
      '/v1/console/settings',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary: 'What the web console needs before sign-in: map tiles and whether OpenID Connect is offered',
          security: [],
          response: { 200: ConsoleSettingsSchema },
        },
      },
      async () => ({
        tileUrl: c.SUS_CONSOLE_TILE_URL ?? null,
        tileAttribution: c.SUS_CONSOLE_TILE_ATTRIBUTION,
        oidc: c.SUS_OIDC_ISSUER !== undefined,
      }),
    );

    app.post(
      '/v1/session',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary: 'Sign in to the console with an API key: answers a session cookie (httpOnly) and its CSRF token',
          security: [],
          body: z.object({ apiKey: z.string().min(1).max(200) }),
          response: { 201: SessionInfoSchema, 400: ProblemSchema, 401: ProblemSchema },
        },
      },
      async (req, reply) => {
        const key = await deps.keys.find(req.body.apiKey);
        if (!key) throw new SusError('SUS_ERR_UNAUTHENTICATED', 'unknown or revoked API key', 401);
        const session = await open(req, reply, { key });
        return reply.code(201).send(info(session));
      },
    );

    app.get(
      '/v1/session',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary:
            'The signed-in console user (name, department, scopes, role) and the CSRF token; null when signed out',
          security: [],
          response: { 200: z.object({ session: SessionInfoSchema.nullable() }) },
        },
      },
      async (req) => {
        const session = await sessions.get(sessionIdOf(req));
        return { session: session ? info(session) : null };
      },
    );

    app.delete(
      '/v1/session',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary: 'Sign out of the console',
          security: [],
          response: { 204: z.null(), 403: ProblemSchema },
        },
      },
      async (req, reply) => {
        const id = sessionIdOf(req);
        const session = await sessions.get(id);
        if (session && req.headers[CSRF_HEADER] !== session.csrf)
          throw new SusError('SUS_ERR_CSRF', `signing out needs the session's CSRF token in ${CSRF_HEADER}`, 403);
        if (id) await sessions.end(id);
        setSessionCookie(req, reply, '', 0);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/session/oidc/login',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary: "Start OpenID Connect sign-in: redirects to the city's identity provider (code flow with PKCE)",
          security: [],
          response: { 302: z.null(), 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (_req, reply) => {
        const config = await provider();
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        await sessions.begin(state, { verifier, nonce }, PENDING_MS);
        const url = oidc.buildAuthorizationUrl(config, {
          redirect_uri: c.SUS_OIDC_REDIRECT_URL!,
          scope: c.SUS_OIDC_SCOPES,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return reply.redirect(url.href, 302);
      },
    );

    app.get(
      '/v1/session/oidc/callback',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['console'],
          summary:
            'Where the identity provider sends the person back: opens the session and redirects to the console; a failed ' +
            "sign-in answers an HTML page in the person's language (Accept-Language) with a link back to sign-in",
          security: [],
          querystring: z
            .object({
              state: z.string().max(200).optional(),
              error: z.string().max(200).optional(),
              error_description: z.string().max(1000).optional(),
            })
            .passthrough(),
          response: { 302: z.null() },
        },
      },
      async (req, reply) => {
        // Advanced as the callback gets further, so a failure says which step refused.
        let why: SignInFailure = 'unavailable';
        try {
          const config = await provider();
          why = 'expired';
          const wait = req.query.state === undefined ? undefined : await sessions.take(req.query.state);
          if (!wait)
            throw new SusError(
              'SUS_ERR_OIDC_SIGN_IN',
              'unknown or expired sign-in: start again from the console',
              403,
              {
                field: 'state',
              },
            );
          if (req.query.error !== undefined) {
            why = 'denied';
            const detail = req.query.error_description ? ` (${req.query.error_description})` : '';
            throw new SusError(
              'SUS_ERR_OIDC_SIGN_IN',
              `the identity provider answered ${req.query.error}${detail}`,
              403,
              { field: 'error' },
            );
          }
          why = 'exchange';
          // The registered redirect URL with the provider's query, not the Host header: the code is bound to it.
          const current = new URL(c.SUS_OIDC_REDIRECT_URL!);
          current.search = new URL(req.url, 'http://x').search;
          let claims: Record<string, unknown>;
          try {
            const tokens = await oidc.authorizationCodeGrant(config, current, {
              pkceCodeVerifier: wait.verifier,
              expectedState: req.query.state,
              expectedNonce: wait.nonce,
            });
            claims = { ...tokens.claims() };
            if (claims[c.SUS_OIDC_ROLE_CLAIM] === undefined || claims[c.SUS_OIDC_DEPARTMENT_CLAIM] === undefined) {
              // Many providers put custom claims in userinfo only.
              const user = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
              claims = { ...user, ...claims };
            }
          } catch (err) {
            throw new SusError('SUS_ERR_OIDC_SIGN_IN', `the identity provider refused: ${(err as Error).message}`, 403);
          }
          why = 'claims';
          const principal = principalOf(claims, c.SUS_OIDC_ROLE_CLAIM, c.SUS_OIDC_DEPARTMENT_CLAIM);
          why = 'unavailable';
          await open(req, reply, principal);
          return reply.redirect('/', 302);
        } catch (err) {
          // A person arrives here from the identity provider's pages, in a browser: a page to read, not a problem body.
          const e = err instanceof SusError ? err : new SusError('SUS_ERR_OIDC_SIGN_IN', (err as Error).message, 503);
          req.log.warn({ code: e.code, reason: e.message, step: why }, 'OpenID Connect sign-in failed');
          // Untyped: the route's schema describes its redirect; this answer is HTML, sent as is.
          return (reply as FastifyReply)
            .code(e.statusCode)
            .type('text/html; charset=utf-8')
            .header('content-security-policy', SIGN_IN_FAILURE_CSP)
            .header('cache-control', 'no-store')
            .send(signInFailurePage(pageLanguage(req.headers['accept-language']), why, e.code));
        }
      },
    );
  };

/** The principal a person's claims make: their role's scopes, acting for their department (an operator for all). */
export function principalOf(
  claims: Record<string, unknown>,
  roleClaim: string,
  departmentClaim: string,
): { key: ApiKey; role: Role } {
  const role = roleOf(claims[roleClaim]);
  if (role === undefined)
    throw new SusError(
      'SUS_ERR_OIDC_SIGN_IN',
      `the claim '${roleClaim}' names no role of ${ROLES.join(', ')}: ask the identity provider's administrator`,
      403,
      { field: roleClaim },
    );
  const dept = claims[departmentClaim];
  const department = role === 'operator' ? null : typeof dept === 'string' && dept !== '' ? dept : undefined;
  if (department === undefined)
    throw new SusError('SUS_ERR_OIDC_SIGN_IN', `the claim '${departmentClaim}' names no department`, 403, {
      field: departmentClaim,
    });
  const sub = String(claims.sub);
  const name = [claims.name, claims.email, claims.preferred_username, sub].find((v) => typeof v === 'string') as string;
  return {
    role,
    key: {
      id: `oidc:${sub}`,
      name,
      department,
      scopes: [...ROLE_SCOPES[role]],
      createdAt: new Date().toISOString(),
      revokedAt: null,
    },
  };
}
