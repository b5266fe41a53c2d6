import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { fixedHeader } from '../../helpers/mqtt-wire.ts';
import { connackCode, type Harness, startBroker } from './harness.ts';

const MiB = 1024 * 1024;
const CONNECT = 0x10;
const PUBLISH_QOS1 = 0x32;

/** Resolves with `value` after `ms`, unless the test has its answer first (a bound on waiting, not a sleep to pass). */
const resolveAfter = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(r, ms, value).unref());

/**
 * Sends a packet header announcing `announced` bytes, then up to `total` bytes of body in 64 KiB writes over a raw
 * TCP connection, honouring backpressure. Reports how much the connection took and whether the broker closed it.
 */
async function flood(port: number, header: Buffer, total: number): Promise<{ written: number; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // EPIPE / ECONNRESET once the broker has closed it
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let closed = false;
  const gone = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  socket.write(header);
  while (written < total && !closed) {
    written += chunk.length;
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), gone]);
  }
  // Everything was taken: give the broker a moment to close it all the same, then report it open.
  if (!closed) await Promise.race([gone, resolveAfter(2000, undefined)]);
  socket.destroy();
  return { written, closed };
}

describe('broker packet size limits before and after login (SUS_MAX_PAYLOAD_BYTES plus protocol overhead)', () => {
  let h: Harness;
  let secret: string;
  let http1: http.Server;
  let wsUrl: string;

  beforeAll(async () => {
    h = await startBroker({ maxPayloadBytes: 256 * 1024 });
    secret = await h.device('pl-dev');
    http1 = http.createServer();
    await new Promise<void>((r) => http1.listen(0, '127.0.0.1', r));
    h.broker.attachWebSocket(http1);
    wsUrl = `ws://127.0.0.1:${(http1.address() as net.AddressInfo).port}/mqtt`;
  });
  afterAll(async () => {
    await h?.stop();
    await new Promise((r) => http1?.close(r));
  });

  it.each([
    ['a CONNECT', CONNECT],
    ['a PUBLISH before any CONNECT', PUBLISH_QOS1],
  ])('closes a TCP connection whose %s announces 200 MB, long before it is all read', async (_what, type) => {
    const rssBefore = process.memoryUsage().rss;
    const result = await flood(h.broker.port, fixedHeader(type, 200 * MiB), 64 * MiB);
    const grown = process.memoryUsage().rss - rssBefore;
    // Loopback socket buffers take a few MB before the reset arrives; without the limit all 64 MB are taken.
    expect(result.closed).toBe(true);
    expect(result.written).toBeLessThan(16 * MiB);
    expect(grown).toBeLessThan(32 * MiB);
  });

  it('closes a WebSocket whose single message is larger than a packet may be (1009) from its frame header', async () => {
    const ws = new WebSocket(wsUrl, 'mqtt');
    ws.on('error', () => undefined);
    await once(ws, 'open');
    const closed = once(ws, 'close').then(([code]) => code as number);
    ws.send(Buffer.concat([fixedHeader(CONNECT, 8 * MiB), Buffer.alloc(8 * MiB)]));
    expect(await Promise.race([closed, resolveAfter(10_000, 'still open')])).toBe(1009);
  });

  it('closes a WebSocket whose MQTT header announces 200 MB, sent in small messages, after the first of them', async () => {
    const ws = new WebSocket(wsUrl, 'mqtt');
    ws.on('error', () => undefined);
    await once(ws, 'open');
    const closed = once(ws, 'close').then(() => 'closed');
    ws.send(fixedHeader(CONNECT, 200 * MiB));
    for (let i = 0; i < 16; i++) ws.send(Buffer.alloc(64 * 1024, 0x61));
    // Without the limit the broker waits for the rest of the 200 MB until its connect timeout (30 s).
    expect(await Promise.race([closed, resolveAfter(10_000, 'still open')])).toBe('closed');
  });

  it('still serves devices after the floods, and a reading at the payload limit is accepted', async () => {
    expect(await connackCode(h.url, { username: 'pl-dev', password: secret, clientId: 'pl-dev' })).toBe('connected');
    const client = await h.connect({ username: 'pl-dev', password: secret, clientId: 'pl-dev' });
    const topic = `sus/v1/devices/pl-dev/up/${'t'.repeat(60_000)}`;
    await client.publishAsync(topic, Buffer.alloc(256 * 1024, 0x20), { qos: 1 });
    expect(h.uplinks.map((u) => u.payload.length)).toStrictEqual([256 * 1024]);
  });
});

describe('broker sockets before login', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startBroker({ maxConnections: 2 });
  });
  afterAll(async () => h?.stop());

  it('holds at most twice the connection limit of sockets per listener, logins in progress included', async () => {
    const open = (): Promise<net.Socket> =>
      new Promise((resolve) => {
        const s = net.connect(h.broker.port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
      });
    // Four idle sockets that never send CONNECT (Aedes waits 30 s for one).
    const idle = [await open(), await open(), await open(), await open()];
    const fifth = await open();
    const closedByBroker = new Promise<string>((resolve) => fifth.once('close', () => resolve('closed')));
    const stillOpen = new Promise<string>((resolve) => setTimeout(resolve, 5000, 'still open').unref());
    expect(await Promise.race([closedByBroker, stillOpen])).toBe('closed');
    for (const s of idle) s.destroy();
  });
});
