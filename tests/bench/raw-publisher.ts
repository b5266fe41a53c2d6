/**
 * A lean MQTT 3.1.1 QoS 1 publisher for load generation: one TCP connection, packets encoded by hand, PUBACKs
 * matched by packet id. mqtt.js spends more CPU per QoS 1 publish than the broker under test does (its store, its
 * per-packet stream writes), so on a 2-core machine it, not the pipeline, would set the measured throughput.
 * Wire format per the MQTT 3.1.1 spec (sections 3.1 CONNECT, 3.3 PUBLISH, 3.4 PUBACK); CONNECT comes from
 * mqtt-packet, the encoder mqtt.js itself uses.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { remainingLength } from '../helpers/mqtt-wire.ts';

export interface RawPublisherOptions {
  port: number;
  host?: string;
  clientId: string;
  username: string;
  password: string;
}

export class RawPublisher {
  private socket: net.Socket | undefined;
  private nextId = 1;
  /** PUBACK callbacks by packet id (ids 1..65535 are reused once acknowledged). */
  private readonly waiting = new Array<(() => void) | undefined>(65536);
  private pending: Buffer | undefined;
  private topic = '';
  private topicBytes = Buffer.alloc(0);

  constructor(private readonly options: RawPublisherOptions) {}

  async connect(): Promise<void> {
    const { port, host = '127.0.0.1', clientId, username, password } = this.options;
    const socket = net.connect({ port, host, noDelay: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: true,
            clientId,
            keepalive: 60,
            username,
            password: Buffer.from(password),
          }),
        );
      });
      socket.once('data', (d: Buffer) => {
        // CONNACK: 0x20 0x02 <flags> <return code>
        if (d[0] !== 0x20 || d[3] !== 0) {
          reject(new Error(`CONNACK refused for ${clientId}: return code ${d[3]}`));
          return;
        }
        socket.off('error', reject);
        if (d.length > 4) this.onData(d.subarray(4));
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        resolve();
      });
    });
  }

  /** Sends one QoS 1 PUBLISH; `onAck` runs when its PUBACK arrives. */
  publish(topic: string, payload: Buffer, onAck: () => void): void {
    let id = this.nextId;
    while (this.waiting[id] !== undefined) id = id === 65535 ? 1 : id + 1;
    this.nextId = id === 65535 ? 1 : id + 1;
    this.waiting[id] = onAck;
    if (topic !== this.topic) {
      this.topic = topic;
      this.topicBytes = Buffer.from(topic);
    }
    const topicBytes = this.topicBytes;
    const body = 2 + topicBytes.length + 2 + payload.length;
    const len = remainingLength(body);
    const buf = Buffer.allocUnsafe(1 + len.length + body);
    let o = 0;
    buf[o++] = 0x32; // PUBLISH, QoS 1, no DUP, no RETAIN
    for (const b of len) buf[o++] = b;
    o = buf.writeUInt16BE(topicBytes.length, o);
    o += topicBytes.copy(buf, o);
    o = buf.writeUInt16BE(id, o);
    payload.copy(buf, o);
    this.socket!.write(buf);
  }

  private onData(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let o = 0;
    // The publishes the acknowledgements set off leave in one write, not one syscall each.
    this.socket!.cork();
    while (o + 4 <= data.length) {
      if (data[o] !== 0x40 || data[o + 1] !== 0x02) {
        this.socket!.destroy(new Error(`unexpected packet type 0x${data[o]!.toString(16)} from the broker`));
        return;
      }
      const id = data.readUInt16BE(o + 2);
      const cb = this.waiting[id];
      this.waiting[id] = undefined;
      cb?.();
      o += 4;
    }
    this.socket!.uncork();
    if (o < data.length) this.pending = data.subarray(o);
  }

  async end(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => socket.end(Buffer.from([0xe0, 0x00]), () => resolve())); // DISCONNECT
    socket.destroy();
  }
}
