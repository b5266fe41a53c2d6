import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** Epoch ms when the whole request had arrived. */
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server that records every webhook request it accepts (2xx) and answers `status`, changeable while it
 * runs; `'hang'` takes requests and never answers (a slow receiver), counting them in `held`.
 */
export async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  /** What the receiver answers from now on (e.g. 503 while it is "down"). */
  answer(status: number | 'hang'): void;
  /** Requests held without an answer. */
  held(): number;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  let status: number | 'hang' = 204;
  let held = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (status === 'hang') {
        held++;
        return;
      }
      if (status < 300)
        received.push({
          at: Date.now(),
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answer(s) {
      status = s;
    },
    held: () => held,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
