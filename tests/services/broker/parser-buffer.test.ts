import { once } from 'node:events';
import net from 'node:net';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { leanParserBuffer } from '../../../services/broker/parser-buffer.ts';

describe("leanParserBuffer: an Aedes client's parser reads from a plain byte queue", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('replaces the Duplex stream, and a CONNECT and a PUBLISH sent a byte at a time are still parsed', async () => {
    const aedes = await Aedes.createBroker();
    const clients: unknown[] = [];
    const server = net.createServer((socket) => {
      const client = aedes.handle(socket);
      clients.push(client);
      expect(leanParserBuffer(client)).toBe(true);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const published = new Promise<string>((resolve) =>
      aedes.on('publish', (packet, client) => {
        if (client) resolve(`${packet.topic}=${packet.payload.toString()}`);
      }),
    );

    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    cleanup.push(async () => void socket.destroy());
    await once(socket, 'connect');
    const bytes = Buffer.concat([
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: 'c1',
        keepalive: 60,
      }),
      mqttPacket.generate({
        cmd: 'publish',
        topic: 'a/b',
        payload: Buffer.from('hello'),
        qos: 0,
        retain: false,
        dup: false,
      }),
    ]);
    for (const byte of bytes) {
      socket.write(Buffer.of(byte));
      await new Promise((r) => setImmediate(r));
    }
    expect(await published).toBe('a/b=hello');
    const list = (clients[0] as { _parser: { _list: object } })._parser._list;
    // No stream state behind it any more: that is the memory saved per connection.
    expect('_readableState' in list || '_writableState' in list).toBe(false);
  });

  it('leaves a parser that has no byte queue of the expected kind alone', () => {
    expect(leanParserBuffer({ _parser: {} })).toBe(false);
    expect(leanParserBuffer(undefined)).toBe(false);
  });
});
