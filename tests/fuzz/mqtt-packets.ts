import net from 'node:net';
import { mqttPacket, mqttString } from '../helpers/mqtt-wire.ts';
import type { Rng } from './rng.ts';

/** MQTT 3.1.1/5 control packets built by hand, so a fuzzer can break any byte of them. */

export function connectPacket(o: {
  clientId: string;
  username?: string;
  password?: string;
  level?: number;
  keepalive?: number;
}): Buffer {
  const level = o.level ?? 4;
  let flags = 0x02; // clean session
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(o.keepalive ?? 60);
  const parts = [mqttString('MQTT'), Buffer.from([level, flags]), keepalive];
  if (level === 5) parts.push(Buffer.from([0])); // no properties
  parts.push(mqttString(o.clientId));
  if (o.username !== undefined) parts.push(mqttString(o.username));
  if (o.password !== undefined) parts.push(mqttString(o.password));
  return mqttPacket(0x10, Buffer.concat(parts));
}

export function publishPacket(topic: string, payload: Buffer, qos = 1, id = 1): Buffer {
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return mqttPacket(0x30 | (qos << 1), Buffer.concat([mqttString(topic), qos > 0 ? pid : Buffer.alloc(0), payload]));
}

export function subscribePacket(filter: string, id = 1): Buffer {
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return mqttPacket(0x82, Buffer.concat([pid, mqttString(filter), Buffer.from([1])]));
}

/** Byte-level damage to a valid packet. */
function damage(p: Buffer, rng: Rng): Buffer {
  const out = Buffer.from(p);
  switch (rng.int(6)) {
    case 0:
      return out.subarray(0, 1 + rng.int(Math.max(1, out.length - 1)));
    case 1:
      for (let i = 0; i < 1 + rng.int(3); i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    case 2:
      // Remaining length announcing far more than follows (up to the 256 MB maximum).
      return Buffer.concat([out.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0x7f]), out.subarray(2)]);
    case 3:
      return Buffer.concat([out.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), out.subarray(2)]);
    case 4:
      out[0] = rng.int(256);
      return out;
    default:
      return Buffer.concat([out, rng.bytes(rng.int(64))]);
  }
}

export interface Credentials {
  device: string;
  password: string;
}

/** Bytes a client sends before logging in: garbage, broken CONNECTs, packets out of order, hostile credentials. */
export function beforeLogin(rng: Rng, creds: Credentials): { bytes: Buffer; what: string } {
  const hostileId = rng.pick([
    '\u0000',
    'a\u0000b',
    'x'.repeat(5000),
    '\ud800',
    '',
    '+',
    '#',
    'sus/v1/devices/x',
    '@svc/x',
  ]);
  switch (rng.int(9)) {
    case 0:
      return { bytes: rng.bytes(1 + rng.int(512)), what: 'random bytes' };
    case 1:
      return {
        bytes: damage(connectPacket({ clientId: creds.device, username: creds.device, password: creds.password }), rng),
        what: 'damaged CONNECT',
      };
    case 2:
      return {
        bytes: connectPacket({ clientId: hostileId, username: hostileId, password: 'x' }),
        what: 'hostile username and client id',
      };
    case 3:
      return {
        bytes: connectPacket({ clientId: creds.device, username: creds.device, password: 'wrong' }),
        what: 'wrong password',
      };
    case 4:
      return {
        bytes: publishPacket(`sus/v1/devices/${creds.device}/up`, Buffer.from('{"values":{"pm2_5":1}}')),
        what: 'PUBLISH before CONNECT',
      };
    case 5:
      return {
        bytes: connectPacket({
          clientId: creds.device,
          username: creds.device,
          password: creds.password,
          level: rng.pick([0, 3, 6, 255]),
        }),
        what: 'unknown protocol level',
      };
    case 6:
      return {
        bytes: connectPacket({
          clientId: creds.device,
          username: creds.device,
          password: creds.password,
          keepalive: 65535,
        }),
        what: 'keepalive beyond the limit',
      };
    case 7:
      return {
        bytes: Buffer.concat([
          connectPacket({ clientId: 'x', username: creds.device, password: creds.password }),
          connectPacket({ clientId: 'y' }),
        ]),
        what: 'foreign client id, two CONNECTs',
      };
    default:
      return { bytes: Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), what: 'CONNECT announcing 256 MB' };
  }
}

/** Bytes a logged-in device sends: damaged or forbidden PUBLISH/SUBSCRIBE, QoS 3, oversize, garbage. */
export function afterLogin(rng: Rng, creds: Credentials, maxPayload: number): { bytes: Buffer; what: string } {
  const own = `sus/v1/devices/${creds.device}`;
  switch (rng.int(10)) {
    case 0:
      return {
        bytes: damage(publishPacket(`${own}/up`, Buffer.from('{"values":{"pm2_5":3}}')), rng),
        what: 'damaged PUBLISH',
      };
    case 1:
      return {
        bytes: publishPacket('sus/v1/devices/other-device/up', Buffer.from('{"values":{"pm2_5":3}}')),
        what: "PUBLISH on another device's topic",
      };
    case 2:
      return {
        bytes: publishPacket(
          rng.pick([`${own}/up/#`, `${own}/+`, `${own}/up\u0000x`, '', '$SYS/x', `${own}/${'a/'.repeat(40)}`]),
          Buffer.from('{}'),
        ),
        what: 'PUBLISH on a hostile topic',
      };
    case 3:
      return { bytes: Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]), what: 'PUBLISH with QoS 3' };
    case 4:
      return {
        bytes: publishPacket(`${own}/up`, Buffer.alloc(maxPayload + 1, 0x20)),
        what: 'PUBLISH beyond SUS_MAX_PAYLOAD_BYTES',
      };
    case 5:
      return {
        bytes: subscribePacket(rng.pick(['#', 'sus/v1/devices/+/up', '$SYS/#', `${own}/down/#`, '\u0000'])),
        what: 'SUBSCRIBE',
      };
    case 6:
      return { bytes: Buffer.from([0x62, 0x02, 0x00, 0x07]), what: 'PUBREL of an unknown id' };
    case 7:
      return { bytes: Buffer.from([0xc0, 0x00, 0xc0, 0x00, 0xe0, 0x00]), what: 'PINGREQ and DISCONNECT' };
    case 8:
      return {
        bytes: publishPacket(`${own}/up`, Buffer.from(`{"values":{"pm2_5":${rng.int(100)}}}`), 0),
        what: 'valid QoS 0 PUBLISH',
      };
    default:
      return { bytes: rng.bytes(1 + rng.int(256)), what: 'random bytes' };
  }
}

export interface RawOutcome {
  /** The broker wrote something back. */
  answered: boolean;
  /** The broker closed the connection (before or after we ended our side). */
  closed: boolean;
  ms: number;
}

/**
 * Opens a TCP connection, optionally logs in (CONNECT, wait for CONNACK), sends `bytes`, waits briefly for an answer
 * or a close, then ends its side and waits for the broker to close. `closed` false means the broker kept a dead
 * connection open.
 */
export function rawExchange(port: number, bytes: Buffer, login?: Credentials, timeoutMs = 5000): Promise<RawOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let answered = false;
    let phase: 'login' | 'fuzz' = login ? 'login' : 'fuzz';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(hard);
      clearTimeout(soft);
      socket.destroy();
      resolve({ answered, closed, ms: performance.now() - started });
    };
    const hard = setTimeout(() => finish(false), timeoutMs);
    let soft: NodeJS.Timeout | undefined;
    const send = () => {
      phase = 'fuzz';
      socket.write(bytes);
      // No answer and no close within a moment: end our side; the broker must then close.
      soft = setTimeout(() => socket.end(), 300);
    };
    socket.on('connect', () => {
      if (login)
        socket.write(
          connectPacket({ clientId: `${login.device}:raw`, username: login.device, password: login.password }),
        );
      else send();
    });
    socket.on('data', (d: Buffer) => {
      if (phase === 'login') {
        if (d[0] === 0x20) send();
        else finish(true);
        return;
      }
      answered = true;
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}
