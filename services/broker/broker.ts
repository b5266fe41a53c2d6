import net from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../common/logger.ts';
import { deviceTopic, parseDeviceTopic } from '../common/topics.ts';
import type { Uplink } from '../common/uplink.ts';
import type { Device } from '../registry/types.ts';
import { mayPublish, maySubscribe, mayUseClientId } from './acl.ts';

export interface DeviceAuthenticator {
  authenticateDevice(id: string, secret: Buffer): Promise<Device | undefined>;
}

export interface BrokerOptions {
  host: string;
  port: number;
  maxPayloadBytes: number;
}

export interface BrokerStats {
  connects: number;
  authFailures: number;
  aclDenials: number;
  messagesIn: number;
}

// MQTT 3.1.1 CONNACK return codes.
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: AuthenticateError['returnCode']): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * Layer 1: the Aedes broker devices connect to. Username = device id, password = device secret; the ACL keeps each
 * device inside its own topic tree. Readings are handed to ingest in-process through the `uplink` event.
 */
export type UplinkHandler = (u: Uplink) => Promise<void>;

export class SusBroker {
  readonly stats: BrokerStats = { connects: 0, authFailures: 0, aclDenials: 0, messagesIn: 0 };
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  // Authenticated identity per connection; a WeakMap so closed clients need no cleanup.
  private readonly identities = new WeakMap<Client, string>();

  constructor(
    private readonly auth: DeviceAuthenticator,
    private readonly log: Logger,
    private readonly options: BrokerOptions,
    /** Where device readings go (in-process ingest); awaited before the PUBACK. */
    private readonly onUplink: UplinkHandler,
  ) {}

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      // Device ids are up to 64 characters; MQTT 3.1's 23-character limit would refuse them.
      maxClientsIdLength: 128,
      drainTimeout: 30_000,
      maxTopicLevels: 16,
    });
    aedes.authenticate = (client, username, password, done) => {
      this.authenticate(client, username, password).then(
        () => done(null, true),
        (err: AuthenticateError) => done(err, false),
      );
    };
    aedes.authorizePublish = (client, packet, done) => {
      if (!client) return done(null); // the broker's own will messages
      const device = this.identities.get(client);
      if (!device || !mayPublish(device, packet.topic) || packet.payload.length > this.options.maxPayloadBytes) {
        this.stats.aclDenials++;
        this.log.warn({ device, topic: packet.topic, bytes: packet.payload.length }, 'publish denied');
        return done(new Error(`publish to ${packet.topic} denied`));
      }
      const t = parseDeviceTopic(packet.topic);
      if (!t?.channel.startsWith('up')) return done(null);
      this.stats.messagesIn++;
      // Aedes sends the QoS 1 PUBACK right after this callback: handing the message over first means an
      // acknowledged reading is already in ingest's hands (its durable spool), never only in this process's memory.
      const uplink: Uplink = {
        device,
        topic: packet.topic,
        channel: t.channel,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        receivedAt: Date.now(),
        source: 'mqtt',
      };
      this.onUplink(uplink).then(
        () => done(null),
        (err: Error) => {
          // No PUBACK: the device keeps the message and sends it again after reconnecting.
          this.log.error({ device, topic: packet.topic, err: err.message }, 'uplink handover failed');
          done(err);
        },
      );
    };
    aedes.authorizeSubscribe = (client, sub, done) => {
      const device = this.identities.get(client);
      if (device && maySubscribe(device, sub.topic)) return done(null, sub);
      this.stats.aclDenials++;
      this.log.warn({ device, topic: sub.topic }, 'subscribe denied');
      done(null, null); // SUBACK 0x80 for this filter
    };
    aedes.on('clientReady', (client) => {
      const device = this.identities.get(client);
      if (device) this.publishStatus(device, 'online');
    });
    aedes.on('clientDisconnect', (client) => {
      const device = this.identities.get(client);
      if (device) this.publishStatus(device, 'offline');
    });
    aedes.on('clientError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'client error');
    });
    aedes.on('connectionError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'connection error');
    });
    this.aedes = aedes;
    const server = net.createServer(aedes.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.log.info({ port: this.port }, 'MQTT broker listening');
  }

  async stop(): Promise<void> {
    const { server, aedes } = this;
    this.server = undefined;
    this.aedes = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private async authenticate(client: Client, username?: string, password?: Buffer): Promise<void> {
    if (!username || !password) {
      this.stats.authFailures++;
      throw authError('username and password required', CONNACK_NOT_AUTHORIZED);
    }
    let device: Device | undefined;
    try {
      device = await this.auth.authenticateDevice(username, password);
    } catch (err) {
      this.log.error({ err, device: username }, 'registry unavailable during authentication');
      throw authError('registry unavailable', CONNACK_NOT_AUTHORIZED);
    }
    if (!device) {
      this.stats.authFailures++;
      this.log.info(
        {
          device: username,
          address: client.conn && 'remoteAddress' in client.conn ? client.conn.remoteAddress : undefined,
        },
        'authentication failed',
      );
      throw authError('bad username or password', CONNACK_BAD_CREDENTIALS);
    }
    if (!mayUseClientId(device.id, client.id)) {
      this.stats.authFailures++;
      throw authError(`client id must be '${device.id}' or '${device.id}:<suffix>'`, CONNACK_IDENTIFIER_REJECTED);
    }
    this.identities.set(client, device.id);
    this.stats.connects++;
  }

  private publishStatus(device: string, status: 'online' | 'offline'): void {
    const payload = Buffer.from(JSON.stringify({ status, time: Date.now() }));
    this.aedes?.publish(
      { cmd: 'publish', topic: deviceTopic.status(device), payload, qos: 1, retain: true, dup: false },
      (err) => {
        if (err) this.log.warn({ device, err: err.message }, 'status publish failed');
      },
    );
  }
}
