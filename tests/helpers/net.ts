import net from 'node:net';

/** A TCP port nothing listens on right now (for servers that must be told their port up front). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A TCP proxy to 127.0.0.1:`target` for fault tests. `blackHole()` makes every connection open at that moment stop
 * carrying bytes, both ways, while its sockets stay open: what a firewall or NAT that lost its state, or a pulled
 * cable, does to a connection (no RST, no FIN, nothing). Connections opened afterwards pass.
 */
export interface TcpProxy {
  port: number;
  blackHole(): void;
  close(): Promise<void>;
}

export async function tcpProxy(target: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; dead: boolean }>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: target, host: '127.0.0.1' });
    const pair = { client, upstream, dead: false };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (d) => {
        if (!pair.dead) to.write(d);
      });
      from.on('end', () => {
        if (!pair.dead) to.end();
      });
      from.on('error', () => undefined);
      from.on('close', () => {
        if (!pair.dead) {
          to.destroy();
          pairs.delete(pair);
        }
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackHole() {
      for (const pair of pairs) pair.dead = true;
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
