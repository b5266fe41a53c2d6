import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The benches' webhook receiver: a real HTTP server that answers 204 and records when each alert notification
 * arrived, by the alert's value (the benches make each flip's value unique), on the clock it is given.
 */
export async function webhookReceiver(clock: () => number) {
  const received = new Map<number, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { value: number };
      received.set(body.value, clock());
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => server.close(),
  };
}
