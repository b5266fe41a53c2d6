import type http from 'node:http';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../common/logger.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import { deviceTopic, parseDeviceTopic } from '../common/topics.ts';
import type { Uplink } from '../common/uplink.ts';
import type { Command, DesiredConfig, DownlinkStore } from '../registry/downlinks.ts';
import type { RegistryEvent } from '../registry/registry.ts';
import type { ApiKey, Device } from '../registry/types.ts';
import {
  mayPublish,
  maySubscribe,
  mayUseClientId,
  SERVICE_CLIENT_PREFIX,
  SERVICE_USERNAME_PREFIX,
  type ServiceRights,
  serviceMayPublish,
  serviceMaySubscribe,
} from './acl.ts';
import { type ClusterBackends, redisBackends } from './cluster.ts';
import { commandMessage, configMessage } from './downlink-messages.ts';
import {
  attachWebSocket,
  closeServer,
  listen,
  portOf,
  type TlsListenerOptions,
  tcpServer,
  tlsServer,
} from './listeners.ts';
import { type AuthFailureReason, BrokerMetrics } from './metrics.ts';
import { LastSeenBatcher, type LastSeenStore, type PresenceSink } from './presence.ts';
import { FailedAttemptThrottle, type ThrottleOptions } from './throttle.ts';
import { cacheEmitterMatches, cacheTopicMatches, type OfflineQueueing } from './topic-match-cache.ts';

export interface DeviceAuthenticator {
  authenticateDevice(id: string, secret: Buffer): Promise<Device | undefined>;
  /** Needed for mutual TLS only: the certificate names the device, no secret is presented. */
  getDevice?(id: string): Promise<Device | undefined>;
  /** Needed for service accounts only: username `svc:<name>`, password = a platform-wide API key. */
  findApiKey?(token: string): Promise<ApiKey | undefined>;
}

export interface BrokerOptions {
  host: string;
  /** TCP listener port (0 = any free port). */
  port: number;
  maxPayloadBytes: number;
  /** Plain TCP listener on `port`; default on. */
  tcp?: boolean;
  tls?: TlsListenerOptions;
  maxConnections?: number;
  maxClientIdLength?: number;
  maxTopicLevels?: number;
  /** Longest keepalive a client may ask for, seconds; a longer one (or none) gets CONNACK 6 from Aedes. */
  keepaliveLimitS?: number;
  /** How long a write may wait for a slow subscriber's socket before that client is dropped. */
  drainTimeoutMs?: number;
  throttle?: Partial<ThrottleOptions>;
  lastSeenFlushMs?: number;
  /** Cluster mode: nodes on one Redis share subscriptions, sessions and retained messages. */
  redisUrl?: string;
}

/** Optional collaborators; a broker without them still authenticates, authorises and hands readings over. */
export interface BrokerDeps {
  metrics?: MetricsRegistry;
  presence?: PresenceSink;
  lastSeen?: LastSeenStore;
  /** Registry change events: a rotated secret ends the device's live sessions. */
  changes?: {
    on(event: 'change', listener: (e: RegistryEvent) => void): unknown;
    off(event: 'change', listener: (e: RegistryEvent) => void): unknown;
  };
  /** Desired configuration delivered on connect; answers on …/ack recorded. */
  downlinks?: DownlinkStore;
}

export interface BrokerStats {
  connects: number;
  authFailures: number;
  aclDenials: number;
  messagesIn: number;
}

/** One authenticated device connection. */
interface DeviceSession {
  kind: 'device';
  device: Device;
  /** Kept to re-check the session when the device's secret is rotated; absent for certificate logins. */
  secret?: Buffer;
  address: string;
}

/** A platform component or integration (its own ACL: watch the device tree, send downlinks). */
interface ServiceSession {
  kind: 'service';
  name: string;
  rights: ServiceRights;
  address: string;
}

type Session = DeviceSession | ServiceSession;

// MQTT 3.1.1 CONNACK return codes.
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;

class AuthFailure extends Error {
  constructor(
    message: string,
    readonly returnCode: AuthenticateError['returnCode'],
    readonly reason: AuthFailureReason,
  ) {
    super(message);
  }
}

export type UplinkHandler = (u: Uplink) => Promise<unknown>;

const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  maxFailures: 20,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  windowMs: 15 * 60_000,
};

/** Log context naming who a session is. */
function who(session: Session | undefined): Record<string, string | undefined> {
  if (!session) return {};
  return session.kind === 'device' ? { device: session.device.id } : { service: session.name };
}

function hasPeerCert(conn: TLSSocket): boolean {
  const cert = conn.getPeerCertificate();
  return !!cert && Object.keys(cert).length > 0;
}

function remoteAddress(client: Client): string {
  const conn = client.conn as Partial<net.Socket>;
  return client.req?.socket.remoteAddress ?? conn.remoteAddress ?? 'unknown';
}

/**
 * Layer 1: the Aedes broker devices connect to. Username = device id, password = device secret (or a client
 * certificate whose CN is the device id); the ACL keeps each device inside its own topic tree. Readings are handed
 * to ingest in-process before the PUBACK.
 */
export class SusBroker {
  readonly stats: BrokerStats = { connects: 0, authFailures: 0, aclDenials: 0, messagesIn: 0 };
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private tlsListener: net.Server | undefined;
  private readonly wsDetachers: Array<() => Promise<void>> = [];
  private cluster: ClusterBackends | undefined;
  // Per connection; a WeakMap so a client that never reached clientDisconnect needs no cleanup.
  private readonly sessions = new WeakMap<Client, Session>();
  // Clients refused a subscription: disconnected once their SUBACK (with 0x80) has been written.
  private readonly refusedSubscribers = new WeakSet<Client>();
  /** Live connections per device: a device may hold several (id:suffix), and a takeover closes the old one late. */
  private readonly live = new Map<string, Set<Client>>();
  /**
   * Every authenticated connection per device until its socket closes, including those between CONNACK and
   * `clientReady`: a rotation in that window must still end them.
   */
  private readonly authenticated = new Map<string, Set<Client>>();
  private readonly throttle: FailedAttemptThrottle;
  private readonly metrics: BrokerMetrics;
  private readonly lastSeen: LastSeenBatcher | undefined;
  private readonly onChange = (e: RegistryEvent) => void this.recheckSessions(e.id);

  constructor(
    private readonly auth: DeviceAuthenticator,
    private readonly log: Logger,
    private readonly options: BrokerOptions,
    /** Where device readings go (in-process ingest); awaited before the PUBACK. */
    private readonly onUplink: UplinkHandler,
    private readonly deps: BrokerDeps = {},
  ) {
    this.throttle = new FailedAttemptThrottle({ ...DEFAULT_THROTTLE, ...options.throttle });
    this.metrics = new BrokerMetrics(deps.metrics, () => this.connectedClients);
    this.lastSeen = deps.lastSeen && new LastSeenBatcher(deps.lastSeen, options.lastSeenFlushMs ?? 5000, log);
  }

  get port(): number {
    return portOf(this.server) ?? this.options.port;
  }

  get tlsPort(): number | undefined {
    return portOf(this.tlsListener);
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Devices with at least one live connection on this node. */
  isOnline(device: string): boolean {
    return (this.live.get(device)?.size ?? 0) > 0;
  }

  async start(): Promise<void> {
    const o = this.options;
    const base: AedesOptions = {
      // Device ids are up to 64 characters plus an optional `:suffix`; MQTT 3.1's 23-character limit is too short.
      maxClientsIdLength: o.maxClientIdLength ?? 128,
      drainTimeout: o.drainTimeoutMs ?? 10_000,
      maxTopicLevels: o.maxTopicLevels ?? 16,
      keepaliveLimit: o.keepaliveLimitS ?? 3600,
    };
    if (o.redisUrl) this.cluster = redisBackends(o.redisUrl);
    const aedes = await Aedes.createBroker(
      this.cluster ? { ...base, mq: this.cluster.mq, persistence: this.cluster.persistence } : base,
    );
    // In-memory sessions only: with Redis another node's subscriptions would not reach this process's cache.
    // (`persistence` is a public field of the instance that aedes' typings leave out.)
    if (!this.cluster) {
      cacheTopicMatches((aedes as unknown as { persistence: OfflineQueueing }).persistence);
      if (!cacheEmitterMatches((aedes as unknown as { mq: unknown }).mq)) {
        this.log.debug('mqemitter has no topic tree to cache; every publish is matched afresh');
      }
    }
    aedes.authenticate = (client, username, password, done) => {
      this.authenticate(client, username, password).then(
        () => done(null, true),
        (err: Error) => {
          const failure =
            err instanceof AuthFailure
              ? err
              : new AuthFailure(err.message, CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
          this.stats.authFailures++;
          this.metrics.authFailures.inc({ reason: failure.reason });
          done(Object.assign(new Error(failure.message), { returnCode: failure.returnCode }), false);
        },
      );
    };
    aedes.authorizePublish = (client, packet, done) => this.authorizePublish(client, packet, done);
    aedes.authorizeSubscribe = (client, sub, done) => {
      const session = this.sessions.get(client);
      const allowed =
        session?.kind === 'device'
          ? maySubscribe(session.device.id, sub.topic)
          : session?.kind === 'service' && serviceMaySubscribe(session.rights, sub.topic);
      if (allowed) return done(null, sub);
      this.stats.aclDenials++;
      this.metrics.aclDenials.inc({ action: 'subscribe' });
      this.log.warn({ ...who(session), topic: sub.topic }, 'subscribe denied');
      // An ACL violation disconnects the client; the SUBACK with 0x80 goes out first so the client learns which
      // filter was refused instead of seeing a bare connection loss.
      this.refusedSubscribers.add(client);
      done(null, null);
    };
    aedes.on('subscribe', (_subs, client) => {
      if (!this.refusedSubscribers.has(client)) return;
      this.refusedSubscribers.delete(client);
      this.log.warn({ ...who(this.sessions.get(client)) }, 'disconnected after a refused subscription');
      // mqtt-packet corks the socket until the next tick: close only after the SUBACK has left.
      setImmediate(() => client.close());
    });
    aedes.authorizeForward = (_client, packet) => {
      const tally = this.metrics.tally;
      tally.outByQos[packet.qos]++;
      tally.bytesOut += packet.payload.length;
      return packet;
    };
    aedes.on('clientReady', (client) => this.onReady(client));
    aedes.on('clientDisconnect', (client) => this.onGone(client));
    aedes.on('clientError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'client error');
    });
    aedes.on('connectionError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'connection error');
    });
    this.aedes = aedes;
    this.deps.changes?.on('change', this.onChange);
    this.lastSeen?.start();

    if (o.tcp !== false) {
      this.server = tcpServer(aedes.handle);
      await listen(this.server, o.port, o.host);
    }
    if (o.tls) {
      this.tlsListener = tlsServer(o.tls, aedes.handle);
      await listen(this.tlsListener, o.tls.port, o.host);
    }
    this.log.info({ port: portOf(this.server), tlsPort: this.tlsPort, cluster: !!o.redisUrl }, 'MQTT broker listening');
  }

  /** MQTT over WebSocket on an HTTP server of this process (the API's): `ws://host:port/mqtt`. */
  attachWebSocket(server: http.Server, path = '/mqtt'): void {
    const aedes = this.aedes;
    if (!aedes) throw new Error('start the broker before attaching a WebSocket listener');
    this.wsDetachers.push(attachWebSocket(server, path, aedes.handle));
  }

  async stop(): Promise<void> {
    const { server, tlsListener, aedes, cluster } = this;
    this.server = undefined;
    this.tlsListener = undefined;
    this.aedes = undefined;
    this.cluster = undefined;
    this.deps.changes?.off('change', this.onChange);
    for (const detach of this.wsDetachers.splice(0)) await detach();
    // Stop accepting first, but wait for the listeners only after Aedes closed the clients: a listener's close
    // callback waits for every open connection, so awaiting it first would hang with devices still connected.
    const listenersClosed = Promise.all([closeServer(server), closeServer(tlsListener)]);
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await listenersClosed;
    await cluster?.close();
    await this.lastSeen?.stop();
    await this.deps.presence?.close();
  }

  // ---- downlink ----------------------------------------------------------------------------------------------

  /** Publishes QoS 1 through the broker (and, in cluster mode, every node): the platform's own downlink path. */
  async publish(topic: string, payload: Buffer, retain = false): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) throw new Error('broker is not running');
    await new Promise<void>((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  async publishCommand(c: Command): Promise<void> {
    await this.publish(deviceTopic.down(c.device, 'command'), commandMessage(c));
  }

  /** Retained, so a device that subscribes later (after a reconnect) still receives the current version. */
  async publishConfig(c: DesiredConfig): Promise<void> {
    await this.publish(deviceTopic.down(c.device, 'config'), configMessage(c), true);
  }

  // ---- authentication ----------------------------------------------------------------------------------------

  private async authenticate(client: Client, username?: string, password?: Buffer): Promise<void> {
    const address = remoteAddress(client);
    const max = this.options.maxConnections ?? 50_000;
    if (this.connectedClients >= max) {
      throw new AuthFailure('connection limit reached', CONNACK_SERVER_UNAVAILABLE, 'too_many_connections');
    }
    if (this.throttle.blocked(address)) {
      // Refused without looking at the credentials: a guesser learns nothing, and costs nothing, until the window ends.
      throw new AuthFailure('too many failed logins from this address', CONNACK_NOT_AUTHORIZED, 'throttled');
    }
    const delay = this.throttle.delayMs(address);
    if (delay > 0) await sleep(delay);

    const identify =
      username?.startsWith(SERVICE_USERNAME_PREFIX) && !(client.conn instanceof TLSSocket && hasPeerCert(client.conn))
        ? this.identifyService(address, username, password)
        : this.identify(client, address, username, password);
    const session = await identify.catch((err: Error) => {
      if (err instanceof AuthFailure && err.reason !== 'registry_unavailable') {
        this.throttle.recordFailure(address);
        this.log.info({ device: username, address, reason: err.reason }, 'authentication failed');
      }
      throw err;
    });
    const maxId = this.options.maxClientIdLength ?? 128;
    if (session.kind === 'service') {
      if (client.id.length > maxId || !client.id.startsWith(SERVICE_CLIENT_PREFIX)) {
        throw new AuthFailure(
          `a service account's client id must start with '${SERVICE_CLIENT_PREFIX}'`,
          CONNACK_IDENTIFIER_REJECTED,
          'client_id',
        );
      }
    } else if (client.id.length > maxId || !mayUseClientId(session.device.id, client.id)) {
      throw new AuthFailure(
        `client id must be '${session.device.id}' or '${session.device.id}:<suffix>' (at most ${maxId} characters)`,
        CONNACK_IDENTIFIER_REJECTED,
        'client_id',
      );
    }
    this.sessions.set(client, session);
    if (session.kind === 'device') this.track(session.device.id, client);
    this.stats.connects++;
    this.metrics.connects.inc();
  }

  /** Service accounts log in with a platform-wide API key; its scopes decide what they may read and send. */
  private async identifyService(address: string, username: string, password?: Buffer): Promise<ServiceSession> {
    if (!password || !this.auth.findApiKey) {
      throw new AuthFailure(
        'service accounts need an API key as password',
        CONNACK_NOT_AUTHORIZED,
        'missing_credentials',
      );
    }
    let key: ApiKey | undefined;
    try {
      key = await this.auth.findApiKey(password.toString('utf8'));
    } catch {
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!key) throw new AuthFailure('unknown or revoked API key', CONNACK_BAD_CREDENTIALS, 'bad_credentials');
    // A department key would see other departments' devices through wildcards: only platform-wide keys qualify.
    if (key.department !== null) {
      throw new AuthFailure('service accounts need a platform-wide API key', CONNACK_NOT_AUTHORIZED, 'bad_credentials');
    }
    const admin = key.scopes.includes('admin');
    return {
      kind: 'service',
      name: username.slice(SERVICE_USERNAME_PREFIX.length) || key.name,
      rights: { read: admin || key.scopes.includes('read'), write: admin || key.scopes.includes('write') },
      address,
    };
  }

  private async identify(
    client: Client,
    address: string,
    username?: string,
    password?: Buffer,
  ): Promise<DeviceSession> {
    const conn = client.conn;
    if (conn instanceof TLSSocket && hasPeerCert(conn)) {
      return this.identifyByCertificate(conn, conn.getPeerCertificate().subject?.CN, address, username);
    }
    if (!username || !password) {
      throw new AuthFailure('username and password required', CONNACK_NOT_AUTHORIZED, 'missing_credentials');
    }
    let device: Device | undefined;
    try {
      device = await this.auth.authenticateDevice(username, password);
    } catch (err) {
      this.log.error({ err, device: username }, 'registry unavailable during authentication');
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!device) throw new AuthFailure('bad username or password', CONNACK_BAD_CREDENTIALS, 'bad_credentials');
    return { kind: 'device', device, secret: Buffer.from(password), address };
  }

  private async identifyByCertificate(
    conn: TLSSocket,
    cn: string | string[] | undefined,
    address: string,
    username?: string,
  ): Promise<DeviceSession> {
    const id = Array.isArray(cn) ? undefined : cn;
    if (!conn.authorized || !id || !this.auth.getDevice) {
      throw new AuthFailure('client certificate not trusted', CONNACK_NOT_AUTHORIZED, 'certificate');
    }
    if (username && username !== id) {
      throw new AuthFailure('username differs from the certificate CN', CONNACK_NOT_AUTHORIZED, 'certificate');
    }
    let device: Device | undefined;
    try {
      device = await this.auth.getDevice(id);
    } catch {
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!device) throw new AuthFailure(`no device '${id}'`, CONNACK_NOT_AUTHORIZED, 'certificate');
    return { kind: 'device', device, address };
  }

  private track(device: string, client: Client): void {
    const set = this.authenticated.get(device) ?? new Set<Client>();
    this.authenticated.set(device, set);
    set.add(client);
    client.conn.once('close', () => {
      set.delete(client);
      if (set.size === 0 && this.authenticated.get(device) === set) this.authenticated.delete(device);
    });
  }

  /** After a registry change: sessions whose secret no longer verifies (rotation) are closed at once. */
  private async recheckSessions(deviceId: string): Promise<void> {
    const clients = [...(this.authenticated.get(deviceId) ?? [])];
    for (const client of clients) {
      const session = this.sessions.get(client);
      if (session?.kind !== 'device' || !session.secret) continue;
      const still = await this.auth.authenticateDevice(deviceId, session.secret).catch(() => 'unknown' as const);
      if (still === undefined) {
        this.log.info({ device: deviceId, address: session.address }, 'secret rotated; closing the old session');
        this.metrics.disconnectsForced.inc({ reason: 'credentials_rotated' });
        client.close();
      }
    }
  }

  // ---- authorisation -----------------------------------------------------------------------------------------

  private authorizePublish(
    client: Client | null,
    packet: Parameters<Aedes['authorizePublish']>[1],
    done: (err?: Error | null) => void,
  ): void {
    if (!client) {
      done(null); // the broker's own messages (status, downlink)
      return;
    }
    const session = this.sessions.get(client);
    const bytes = packet.payload.length;
    const tooBig = bytes > this.options.maxPayloadBytes;
    const allowed =
      session?.kind === 'device'
        ? mayPublish(session.device.id, packet.topic)
        : session?.kind === 'service' && serviceMayPublish(session.rights, packet.topic);
    if (!session || !allowed || tooBig) {
      this.stats.aclDenials++;
      this.metrics.aclDenials.inc({ action: tooBig ? 'payload_too_large' : 'publish' });
      this.log.warn({ ...who(session), topic: packet.topic, bytes }, 'publish denied; disconnecting');
      done(new Error(`publish to ${packet.topic} denied`)); // Aedes closes the connection
      return;
    }
    this.stats.messagesIn++;
    const tally = this.metrics.tally;
    tally.inByQos[packet.qos]++;
    tally.bytesIn += bytes;
    if (session.kind === 'service') {
      done(null); // a downlink: routed to the device like any message
      return;
    }
    const device = session.device.id;
    const t = parseDeviceTopic(packet.topic);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (t?.channel === 'ack' || t?.channel.startsWith('ack/')) {
      const store = this.deps.downlinks;
      if (!store) {
        done(null);
        return;
      }
      store.recordAck(device, packet.topic, payload).then(
        () => done(null),
        (err: Error) => {
          this.log.error({ device, topic: packet.topic, err: err.message }, 'recording the ack failed');
          done(err);
        },
      );
      return;
    }
    // Aedes sends the QoS 1 PUBACK right after this callback: handing the message over first means an
    // acknowledged reading is already in ingest's hands (its durable spool), never only in this process's memory.
    const uplink: Uplink = {
      device,
      topic: packet.topic,
      channel: t?.channel ?? 'up',
      payload,
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
  }

  // ---- presence ----------------------------------------------------------------------------------------------

  private onReady(client: Client): void {
    const session = this.sessions.get(client);
    if (session?.kind !== 'device') return;
    const id = session.device.id;
    const set = this.live.get(id) ?? new Set<Client>();
    this.live.set(id, set);
    const first = set.size === 0;
    set.add(client);
    this.lastSeen?.mark(id);
    if (first) this.presence(session.device, true);
    void this.deliverDesiredConfig(id);
  }

  private onGone(client: Client): void {
    const session = this.sessions.get(client);
    if (session?.kind !== 'device') return;
    const id = session.device.id;
    const set = this.live.get(id);
    if (!set?.delete(client)) return;
    this.lastSeen?.mark(id);
    if (set.size > 0) return; // another connection of the device is still up (or a takeover already replaced it)
    this.live.delete(id);
    this.presence(session.device, false);
  }

  private presence(device: Device, online: boolean): void {
    const time = Date.now();
    this.deps.presence?.write(device, online, time);
    if (!this.aedes) return;
    const payload = Buffer.from(JSON.stringify({ status: online ? 'online' : 'offline', time }));
    this.publish(deviceTopic.status(device.id), payload, true).catch((err: Error) => {
      this.log.warn({ device: device.id, err: err.message }, 'status publish failed');
    });
  }

  /** A device that was offline when its configuration changed gets the current version when it comes back. */
  private async deliverDesiredConfig(device: string): Promise<void> {
    const store = this.deps.downlinks;
    if (!store) return;
    try {
      const desired = await store.getDesiredConfig(device);
      if (desired && desired.ackedVersion !== desired.version) await this.publishConfig(desired);
    } catch (err) {
      this.log.warn({ device, err: (err as Error).message }, 'desired config delivery failed');
    }
  }
}
