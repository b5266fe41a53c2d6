import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropBodyText, runCase } from '../bench/api-load.ts';

// bench:api's load generator drops autocannon's body text to keep its own GC out of the latencies it measures:
// it must still receive every answer whole, and refuse to run where it cannot drop the text.
describe('bench:api load generator', () => {
  const body = Buffer.alloc(1024 * 1024, 'x');
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('receives every answer whole without keeping its text', async () => {
    const f = await runCase({ url, headers: {}, connections: 2, durationS: 1, keepBodyText: false });
    expect(f.total).toBeGreaterThan(0);
    expect(f.count2xx).toBe(f.total);
    expect(f.errors).toBe(0);
    // Headers and body of every answer: the body alone is a lower bound.
    expect(f.bytes / f.total).toBeGreaterThanOrEqual(body.length);
    expect(f.bytes / f.total).toBeLessThan(body.length + 1024);
  });

  it('receives every answer whole in a worker thread too (the setupClient loaded by path)', async () => {
    const f = await runCase({ url, headers: {}, connections: 2, durationS: 1, keepBodyText: false }, 1);
    expect(f.total).toBeGreaterThan(0);
    expect(f.count2xx).toBe(f.total);
    expect(f.bytes / f.total).toBeGreaterThanOrEqual(body.length);
  });

  it("drops the body text from the installed autocannon's request queue", async () => {
    // autocannon's internal module (untyped): the test is there to notice when it changes.
    const internal: string = 'autocannon/lib/pipelinedRequestsQueue.js';
    const { default: Queue } = (await import(internal)) as {
      default: new () => {
        insertRequest(req: object): void;
        addBody(data: Buffer): void;
        terminateRequest(): { body: string };
      };
    };
    const client = { pipelinedRequests: new Queue() };
    dropBodyText(client);
    client.pipelinedRequests.insertRequest({});
    client.pipelinedRequests.addBody(Buffer.from('{"devices":[]}'));
    expect(client.pipelinedRequests.terminateRequest().body).toBe('');
  });

  it('fails loudly on a client whose body queue it does not know', () => {
    expect(() => dropBodyText({})).toThrow(/pipelinedRequests\.addBody/);
  });
});
