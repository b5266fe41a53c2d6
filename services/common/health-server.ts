import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Service } from './service.ts';

/** What a node answers on /readyz: false while it drains or cannot reach what it needs. */
export type Readiness = () => Promise<boolean>;

/**
 * Liveness and readiness of a node without the API (`sus broker`), for load balancers and orchestrators:
 * `GET /livez` is 200 while the process serves at all, `GET /readyz` 200 while it should get new connections and
 * 503 once it drains or loses its registry. Nothing else is served; the answer carries no detail.
 */
export class HealthServer implements Service {
  private server: http.Server | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly ready: Readiness,
  ) {}

  get boundPort(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const path = req.url?.split('?')[0];
      if (req.method !== 'GET' || (path !== '/livez' && path !== '/readyz')) {
        res.writeHead(404).end();
        return;
      }
      if (path === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      this.ready().then(
        (ok) => res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n'),
        () => res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n'),
      );
    });
    // Probes are short: an idle keep-alive socket must not hold the drain.
    server.keepAliveTimeout = 1000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
