import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** The claims a test person carries: role and department as the city's identity provider would set them. */
export interface TestPerson {
  name: string;
  sus_role?: string | string[];
  sus_department?: string;
}

export interface TestIdentityProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers the console's redirect URL (known once the platform listens) and starts answering. */
  register(redirectUri: string): void;
  stop(): Promise<void>;
}

/**
 * A real OpenID Connect provider (the `oidc-provider` package) on a free port, with its development login form:
 * any password signs in the person named by the login. Custom claims come with the `profile` scope (userinfo).
 */
export async function startIdentityProvider(people: Record<string, TestPerson>): Promise<TestIdentityProvider> {
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'sus-console';
  const clientSecret = 'test-client-secret-0123456789abcdef';
  return {
    issuer,
    clientId,
    clientSecret,
    register(redirectUri) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        claims: { openid: ['sub'], profile: ['name', 'sus_role', 'sus_department'] },
        findAccount: (_ctx, sub) => {
          const person = people[sub];
          if (!person) return undefined;
          return { accountId: sub, claims: async () => ({ sub, ...person }) };
        },
        pkce: { required: () => true },
        cookies: { keys: ['test-cookie-key-0123456789'] },
        features: { devInteractions: { enabled: true } },
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
