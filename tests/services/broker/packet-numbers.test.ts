import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { startBroker } from './harness.ts';

// mqtt-packet's cache of number Buffers (the module has no typings of its own).
const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

/** Its own file: the switch is process-wide and must come before the process's first MQTT packet. */
describe("broker start: mqtt-packet's 65,536-Buffer number cache is never built", () => {
  it('a started broker answers packet ids right without building the cache', async () => {
    const h = await startBroker();
    try {
      // Switched by the broker's start, before this file wrote any packet.
      expect(mqttPacket.writeToStream.cacheNumbers).toBe(false);
      const secret = await h.device('pn-1');
      // A raw socket: the test writes and reads the packets itself, so the ids on the wire are its own.
      const socket = net.connect(h.broker.port, '127.0.0.1');
      try {
        await once(socket, 'connect');
        const parser = mqttPacket.parser();
        const got: Array<{ cmd: string; messageId?: number; returnCode?: number }> = [];
        parser.on('packet', (p) =>
          got.push({ cmd: p.cmd, messageId: p.messageId, returnCode: 'returnCode' in p ? p.returnCode : undefined }),
        );
        socket.on('data', (b) => parser.parse(b));
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: true,
            clientId: 'pn-1',
            keepalive: 60,
            username: 'pn-1',
            password: Buffer.from(secret),
          }),
        );
        for (const messageId of [1, 300, 65_535]) {
          socket.write(
            mqttPacket.generate({
              cmd: 'publish',
              topic: 'sus/v1/devices/pn-1/up/pm10',
              payload: Buffer.from(JSON.stringify({ v: 1 })),
              qos: 1,
              messageId,
              retain: false,
              dup: false,
            }),
          );
        }
        const deadline = Date.now() + 10_000;
        while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(got).toStrictEqual([
          { cmd: 'connack', messageId: undefined, returnCode: 0 },
          { cmd: 'puback', messageId: 1, returnCode: undefined },
          { cmd: 'puback', messageId: 300, returnCode: undefined },
          { cmd: 'puback', messageId: 65_535, returnCode: undefined },
        ]);
        expect(Object.keys(numbers.cache).length).toBe(0);
      } finally {
        socket.destroy();
      }
    } finally {
      await h.stop();
    }
  });
});
