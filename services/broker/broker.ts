import type { EventEmitter } from 'node:events';
import type http from 'node:http';
import type net from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { LastSeenBatcher, type LastSeenStore } from '../common/last-seen.ts';
import type { Logger } from '../common/logger.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import type { Service } from '../common/service.ts';
import type { StaReadAccess } from '../common/sta-reader.ts';
import type { Command, DesiredConfig, DownlinkStore, RegistryEvent } from '../registry/index.ts';
import { Authentication, DEFAULT_MAX_CONNECTIONS, type DeviceAuthenticator } from './authentication.ts';
import { Authorization, type UplinkHandler } from './authorization.ts';
import { type ClusterBackends, redisBackends } from './cluster.ts';
import { Downlink } from './downlink.ts';
import {
  attachWebSocket,
  type ConnectionHandler,
  closeServer,
  listen,
  portOf,
  type TlsListenerOptions,
  tcpServer,
  tlsServer,
} from './listeners.ts';
import { BrokerMetrics, type BrokerStats } from './metrics.ts';
import { limitPacketSize, maxPacketBytes } from './packet-limit.ts';
import { leanParserBuffer, uncachedPacketNumbers } from './parser-buffer.ts';
import { type PresenceSink, PresenceTracker } from './presence.ts';
import { limitSessionQueues, type OutgoingQueues } from './session-queue-limit.ts';
import { Sessions } from './sessions.ts';
import { SharedFailureCounts } from './shared-throttle.ts';
import { TakeoverOrder } from './takeover-order.ts';
import type { ThrottleOptions } from './throttle.ts';
import { cacheEmitterMatches, cacheTopicMatches, type OfflineQueueing } from './topic-match-cache.ts';

export type { StaReadAccess, StaReader } from '../common/sta-reader.ts';
export type { DeviceAuthenticator } from './authentication.ts';
export type { UplinkHandler } from './authorization.ts';
export type { BrokerStats } from './metrics.ts';

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
  /** Prefix of the keys the broker keeps in Redis itself (the shared login throttle), SUS_REDIS_PREFIX. */
  redisPrefix?: string;
  /** Topic filters one connection may hold; more get SUBACK 0x80 and the connection is closed. */
  maxSubscriptions?: number;
  /** Messages kept per persistent session (`clean: false`) until acknowledged; newer ones are dropped (not in cluster mode). */
  sessionQueueMessages?: number;
  /** Longest wait for the registry on a login (then CONNACK 3) or a device's ack (then no PUBACK). */
  registryTimeoutMs?: number;
}

const MAX_INFLIGHT_QOS2 = 32;

/** Optional collaborators; a broker without them still authenticates, authorises and hands readings over. */
export interface BrokerDeps {
  metrics?: MetricsRegistry;
  presence?: PresenceSink;
  lastSeen?: LastSeenStore;
  /**
   * Registry change events: a rotated secret or a decommissioning ends the device's live sessions, a revoked key
   * the service sessions it opened.
   */
  changes?: {
    on(event: 'change', listener: (e: RegistryEvent) => void): unknown;
    off(event: 'change', listener: (e: RegistryEvent) => void): unknown;
  };
  /** Desired configuration delivered on connect; answers on …/ack recorded. */
  downlinks?: DownlinkStore;
  /** SensorThings MQTT readers: which topics a reader may subscribe to (without it, readers are refused any). */
  sta?: StaReadAccess;
}

/**
 * Layer 1: the Aedes broker devices connect to. Username = device id, password = device secret (or a client
 * certificate whose CN is the device id); the ACL keeps each device inside its own topic tree. Readings are handed
 * to ingest in-process before the PUBACK. This class owns Aedes and the listeners and wires its hooks to one
 * collaborator each: authentication, authorization, presence, downlink.
 */
export class SusBroker implements Service {
  readonly stats: BrokerStats = { connects: 0, authFailures: 0, aclDenials: 0, messagesIn: 0 };
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private tlsListener: net.Server | undefined;
  private readonly wsDetachers: Array<() => Promise<void>> = [];
  private cluster: ClusterBackends | undefined;
  /** Aedes' connection handler with the packet size limit applied to each new client. */
  private handle: ConnectionHandler | undefined;
  private readonly sessions = new Sessions();
  private readonly metrics: BrokerMetrics;
  private readonly lastSeen: LastSeenBatcher | undefined;
  private readonly authentication: Authentication;
  private readonly authorization: Authorization;
  private readonly presence: PresenceTracker;
  private readonly downlink: Downlink;
  private readonly onChange = (e: RegistryEvent) => this.authentication.changed(e);

  constructor(
    auth: DeviceAuthenticator,
    private readonly log: Logger,
    private readonly options: BrokerOptions,
    /** Where device readings go (in-process ingest); awaited before the PUBACK. */
    onUplink: UplinkHandler,
    private readonly deps: BrokerDeps = {},
  ) {
    this.metrics = new BrokerMetrics(deps.metrics, () => this.connectedClients);
    this.lastSeen = deps.lastSeen && new LastSeenBatcher(deps.lastSeen, options.lastSeenFlushMs ?? 5000, log);
    const counters = { stats: this.stats, metrics: this.metrics };
    this.authentication = new Authentication(
      auth,
      this.sessions,
      options,
      { ...counters, connectedClients: () => this.connectedClients },
      log,
    );
    this.authorization = new Authorization(
      this.sessions,
      options,
      { ...counters, onUplink, acks: deps.downlinks, ...(deps.sta ? { sta: deps.sta } : {}) },
      log,
    );
    this.presence = new PresenceTracker(
      {
        // A status change after stop() (the last clients closing) is not published: there is no broker left.
        publish: (topic, payload) => (this.aedes ? this.publish(topic, payload, true) : Promise.resolve()),
        sink: deps.presence,
        lastSeen: this.lastSeen,
      },
      log,
    );
    this.downlink = new Downlink((topic, payload, retain) => this.publish(topic, payload, retain), deps.downlinks, log);
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
    return this.presence.isOnline(device);
  }

  async start(): Promise<void> {
    const o = this.options;
    if (!uncachedPacketNumbers()) this.log.debug('mqtt-packet number cache switch not recognised: cache kept');
    const base: AedesOptions = {
      // Device ids are up to 64 characters plus an optional `:suffix`; MQTT 3.1's 23-character limit is too short.
      maxClientsIdLength: o.maxClientIdLength ?? 128,
      drainTimeout: o.drainTimeoutMs ?? 10_000,
      maxTopicLevels: o.maxTopicLevels ?? 16,
      keepaliveLimit: o.keepaliveLimitS ?? 3600,
      // QoS 2 publishes kept per client until their PUBREL: Aedes allows 1,000, each up to a full packet (a device
      // withholding PUBRELs could pin 300 MB); devices publish QoS 2 one or two at a time.
      maxInflightInbound: MAX_INFLIGHT_QOS2,
    };
    if (o.redisUrl) {
      this.cluster = redisBackends(o.redisUrl, this.log);
      this.authentication.sharedFailures = new SharedFailureCounts(
        this.cluster.redis,
        o.redisPrefix ?? 'sus:',
        this.authentication.throttleWindowMs,
      );
    }
    const aedes = await Aedes.createBroker(
      this.cluster ? { ...base, mq: this.cluster.mq, persistence: this.cluster.persistence } : base,
    );
    // In-memory sessions only: with Redis another node's subscriptions would not reach this process's cache.
    // (`persistence` is a public field of the instance that aedes' typings leave out.)
    if (!this.cluster) {
      const persistence = (aedes as unknown as { persistence: OfflineQueueing & OutgoingQueues }).persistence;
      // Aedes' registry of connected clients by id (an instance field its typings leave out).
      const connected = (aedes as unknown as { clients: Record<string, unknown> }).clients;
      limitSessionQueues(persistence, o.sessionQueueMessages ?? 10_000, {
        connected: (clientId) => connected[clientId] !== undefined,
        onDrop: () => this.metrics.sessionQueueDropped.inc(),
      });
      cacheTopicMatches(persistence);
      if (!cacheEmitterMatches((aedes as unknown as { mq: unknown }).mq)) {
        this.log.debug('mqemitter has no topic tree to cache; every publish is matched afresh');
      }
    }
    const takeovers = new TakeoverOrder();
    aedes.on('clientReady', takeovers.ready);
    aedes.authenticate = (client, username, password, done) =>
      this.authentication.hook(client, username, password, (err, ok) => {
        if (!ok) return done(err, ok);
        takeovers.admit(client, () => {
          this.authorization.admitWill(client);
          done(err, ok);
        });
      });
    aedes.authorizePublish = this.authorization.authorizePublish;
    aedes.authorizeSubscribe = this.authorization.authorizeSubscribe;
    aedes.authorizeForward = this.authorization.authorizeForward;
    aedes.on('subscribe', this.authorization.subscribed);
    aedes.on('unsubscribe', this.authorization.unsubscribed);
    aedes.on('clientReady', (client) => {
      const session = this.sessions.get(client);
      if (session?.kind !== 'device') return;
      this.presence.connected(session.device, client);
      // The login's lookup said whether a configuration awaits the device: a storm of devices without one asks nothing.
      if (session.configPending !== false) void this.downlink.deliverDesiredConfig(session.device.id);
    });
    aedes.on('clientDisconnect', (client) => {
      this.authorization.released(client);
      const session = this.sessions.get(client);
      if (session?.kind === 'device') this.presence.disconnected(session.device, client);
    });
    aedes.on('clientError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'client error');
    });
    aedes.on('connectionError', (client, err) => {
      this.log.debug({ client: client.id, err: err.message }, 'connection error');
    });
    // Aedes emits 'error' when publishing the wills of a dead node fails (cluster mode: Redis unreachable); without a
    // listener that would throw out of a timer and end the process.
    (aedes as EventEmitter).on('error', (err: Error) => this.log.error({ err: err.message }, 'broker error'));
    const maxPacket = maxPacketBytes(o.maxPayloadBytes);
    let warned = false;
    let leanWarned = false;
    this.handle = (stream, req) => {
      const client = aedes.handle(stream, req);
      if (!limitPacketSize(client, maxPacket) && !warned) {
        warned = true;
        this.log.warn('mqtt-packet parser not recognised: MQTT packets are not limited in size');
      }
      if (!leanParserBuffer(client) && !leanWarned) {
        leanWarned = true;
        this.log.debug('mqtt-packet parser keeps its own byte stream (bl layout not recognised)');
      }
      return client;
    };
    this.aedes = aedes;
    this.deps.changes?.on('change', this.onChange);
    await this.lastSeen?.start();

    // Sockets per listener, logins in progress included: the connection limit counts only logged-in clients, and
    // each socket before login may hold a packet up to the size limit. Twice the limit leaves room to answer the
    // surplus with CONNACK 3.
    const maxSockets = 2 * (o.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    if (o.tcp !== false) {
      this.server = tcpServer(this.handle);
      this.server.maxConnections = maxSockets;
      await listen(this.server, o.port, o.host);
    }
    if (o.tls) {
      this.tlsListener = tlsServer(o.tls, this.handle);
      this.tlsListener.maxConnections = maxSockets;
      await listen(this.tlsListener, o.tls.port, o.host);
    }
    this.log.info({ port: portOf(this.server), tlsPort: this.tlsPort, cluster: !!o.redisUrl }, 'MQTT broker listening');
  }

  /** MQTT over WebSocket on an HTTP server of this process (the API's): `ws://host:port/mqtt`. */
  attachWebSocket(server: http.Server, path = '/mqtt'): void {
    const handle = this.handle;
    if (!handle) throw new Error('start the broker before attaching a WebSocket listener');
    // Clients send an MQTT packet, or a part of one, per WebSocket message: no message needs to be larger.
    this.wsDetachers.push(attachWebSocket(server, path, handle, maxPacketBytes(this.options.maxPayloadBytes)));
  }

  async stop(): Promise<void> {
    const { server, tlsListener, aedes, cluster } = this;
    this.server = undefined;
    this.tlsListener = undefined;
    this.aedes = undefined;
    this.handle = undefined;
    this.cluster = undefined;
    this.authentication.sharedFailures = undefined;
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
    await this.downlink.command(c);
  }

  /** Retained, so a device that subscribes later (after a reconnect) still receives the current version. */
  async publishConfig(c: DesiredConfig): Promise<void> {
    await this.downlink.config(c);
  }
}
