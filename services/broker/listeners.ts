import type http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';

export type ConnectionHandler = (stream: Duplex, req?: http.IncomingMessage) => unknown;

export interface TlsListenerOptions {
  port: number;
  /** PEM text of the server certificate chain and key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM of the CA that signs device certificates: turns on mutual TLS (certificate CN = device id). */
  ca?: string | Buffer;
}

export async function listen(server: net.Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function closeServer(server: net.Server | undefined): Promise<void> {
  if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function portOf(server: net.Server | undefined): number | undefined {
  const address = server?.address();
  return typeof address === 'object' && address ? address.port : undefined;
}

export function tcpServer(handler: ConnectionHandler): net.Server {
  return net.createServer((socket) => handler(socket));
}

/**
 * TLS listener. With a CA the server asks for a client certificate but does not require one: devices without a
 * certificate still log in with their password; a presented certificate that the CA did not sign is refused at
 * CONNECT (see the broker's authentication), so the client gets a CONNACK code instead of a bare TLS alert.
 */
export function tlsServer(options: TlsListenerOptions, handler: ConnectionHandler): tls.Server {
  return tls.createServer(
    {
      cert: options.cert,
      key: options.key,
      ...(options.ca ? { ca: options.ca, requestCert: true, rejectUnauthorized: false } : {}),
    },
    (socket) => handler(socket),
  );
}

/**
 * MQTT over WebSocket on an HTTP server's `path` (browser clients); other upgrade requests are left alone. A message
 * above `maxPayload` bytes closes the connection (1009) from its frame header, before ws buffers it (its default
 * would buffer 100 MiB).
 */
export function attachWebSocket(
  server: http.Server,
  path: string,
  handler: ConnectionHandler,
  maxPayload: number,
): () => Promise<void> {
  const wss = new WebSocketServer({ noServer: true, maxPayload });
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '';
    if (url !== path && !url.startsWith(`${path}?`)) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      handler(createWebSocketStream(ws), req);
    });
  };
  server.on('upgrade', onUpgrade);
  return async () => {
    server.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
