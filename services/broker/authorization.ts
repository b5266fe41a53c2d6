import type { Aedes, Client, Subscription } from 'aedes';
import type { Logger } from '../common/logger.ts';
import type { StaReadAccess, StaReader } from '../common/sta-reader.ts';
import { parseDeviceTopic } from '../common/topics.ts';
import type { Uplink } from '../common/uplink.ts';
import { within } from '../common/within.ts';
import { mayPublish, maySubscribe, STA_TOPIC_ROOT, serviceMayPublish, serviceMaySubscribe } from './acl.ts';
import { DEFAULT_REGISTRY_TIMEOUT_MS } from './authentication.ts';
import { dropPendingWill, pendingWill } from './client-internals.ts';
import type { BrokerMetrics, BrokerStats } from './metrics.ts';
import {
  type DeviceSession,
  type ReaderSession,
  type ServiceSession,
  type Session,
  type Sessions,
  who,
} from './sessions.ts';

export type UplinkHandler = (u: Uplink) => Promise<unknown>;

type PublishPacket = Parameters<Aedes['authorizePublish']>[1];
type ForwardPacket = Parameters<Aedes['authorizeForward']>[1];

/** Where a device's answers to downlinks (`…/ack`) are recorded. */
export interface AckRecorder {
  recordAck(device: string, topic: string, payload: Buffer): Promise<unknown>;
}

/**
 * What a connection may publish and subscribe to (the topic ACL of `acl.ts`, the payload limit), and where an
 * accepted device publish goes: readings to ingest, answers to the downlink store, both before the PUBACK.
 */
export class Authorization {
  // Clients refused a subscription: disconnected once their SUBACK (with 0x80) has been written.
  private readonly refusedSubscribers = new WeakSet<Client>();
  /** The filters granted per connection, to bound them (each costs memory and a place in every topic match). */
  private readonly filters = new WeakMap<Client, Set<string>>();
  /** The SensorThings side's handle of each reader connection. */
  private readonly staReaders = new WeakMap<Client, StaReader>();

  private staReader(client: Client, session: ReaderSession): StaReader {
    let reader = this.staReaders.get(client);
    if (!reader) {
      reader = {
        department: session.department,
        keyId: session.keyId ?? null,
        get open() {
          return !client.closed;
        },
        deliver: (topic, payload) =>
          client.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => {
            if (err) this.log.debug({ ...who(session), topic, err: err.message }, 'SensorThings notification not sent');
          }),
        end: (reason) => {
          this.log.info({ ...who(session), reason }, 'SensorThings reader disconnected');
          client.close();
        },
      };
      this.staReaders.set(client, reader);
    }
    return reader;
  }

  /** A reader's connection ended: its subscriptions no longer receive anything. */
  readonly released = (client: Client): void => {
    const reader = this.staReaders.get(client);
    if (!reader) return;
    this.deps.sta?.released(reader);
    this.staReaders.delete(client);
    this.filters.delete(client);
  };

  constructor(
    private readonly sessions: Sessions,
    private readonly options: { maxPayloadBytes: number; maxSubscriptions?: number; registryTimeoutMs?: number },
    private readonly deps: {
      stats: BrokerStats;
      metrics: BrokerMetrics;
      /** Where device readings go (in-process ingest); awaited before the PUBACK. */
      onUplink: UplinkHandler;
      acks?: AckRecorder;
      sta?: StaReadAccess;
    },
    private readonly log: Logger,
  ) {}

  /** A session's publish rights on one topic. */
  private mayPublish(session: Session | undefined, topic: string): session is DeviceSession | ServiceSession {
    if (session?.kind === 'device') return mayPublish(session.device.id, topic);
    return session?.kind === 'service' && serviceMayPublish(session.rights, topic);
  }

  /**
   * Retained messages are kept forever (in memory, or Redis in cluster mode) and replayed to every new subscriber:
   * only the platform's own status and desired-config publishes may leave one. A client's flag is removed, counted.
   */
  private stripRetain(packet: { retain?: boolean }, source: 'publish' | 'will'): void {
    if (!packet.retain) return;
    packet.retain = false;
    this.deps.metrics.retainStripped.inc({ source });
  }

  /**
   * Right after a successful login, before Aedes stores the will: a will is published later without a session to
   * check it against (by another node when this one dies, with no client at all), so it is checked now. A will
   * outside the session's ACL or above the payload limit is dropped; the connection stays.
   */
  readonly admitWill = (client: Client): void => {
    const will = pendingWill(client);
    if (!will) return;
    const session = this.sessions.get(client);
    const bytes = will.payload.length;
    if (!this.mayPublish(session, will.topic) || bytes > this.options.maxPayloadBytes) {
      dropPendingWill(client);
      this.deps.stats.aclDenials++;
      this.deps.metrics.aclDenials.inc({ action: 'will' });
      this.log.warn({ ...who(session), topic: will.topic, bytes }, 'will refused; connection kept without it');
      return;
    }
    this.stripRetain(will, 'will');
  };

  readonly authorizePublish = (
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void => {
    if (!client) {
      // A will whose client is gone (cluster mode: its node died). Refusing here would make Aedes emit an 'error';
      // it was checked against the ACL, and lost its retain flag, when its client logged in (admitWill).
      done(null);
      return;
    }
    const { stats, metrics } = this.deps;
    const session = this.sessions.get(client);
    const bytes = packet.payload.length;
    const tooBig = bytes > this.options.maxPayloadBytes;
    const allowed = this.mayPublish(session, packet.topic);
    if (!session || !allowed || tooBig) {
      stats.aclDenials++;
      metrics.aclDenials.inc({ action: tooBig ? 'payload_too_large' : 'publish' });
      this.log.warn({ ...who(session), topic: packet.topic, bytes }, 'publish denied; disconnecting');
      done(new Error(`publish to ${packet.topic} denied`)); // Aedes closes the connection
      return;
    }
    this.stripRetain(packet, 'publish');
    stats.messagesIn++;
    const tally = metrics.tally;
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
      const acks = this.deps.acks;
      if (!acks) {
        done(null);
        return;
      }
      // Bounded: a registry that hangs must not hold the device's PUBACK (nor its later publishes) without end.
      const ms = this.options.registryTimeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
      within(acks.recordAck(device, packet.topic, payload), ms, () => new Error(`no answer within ${ms} ms`)).then(
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
    this.deps.onUplink(uplink).then(
      () => done(null),
      (err: Error) => {
        // No PUBACK: the device keeps the message and sends it again after reconnecting.
        this.log.error({ device, topic: packet.topic, err: err.message }, 'uplink handover failed');
        done(err);
      },
    );
  };

  readonly authorizeSubscribe = (
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void => {
    const session = this.sessions.get(client);
    if (session?.kind === 'reader') {
      const sta = this.deps.sta;
      const ms = this.options.registryTimeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
      const reader = this.staReader(client, session);
      const ask =
        sta && sub.topic.startsWith(STA_TOPIC_ROOT)
          ? within(sta.subscribe(reader, sub.topic), ms, () => new Error(`no answer within ${ms} ms`))
          : Promise.resolve(`a SensorThings reader subscribes to ${STA_TOPIC_ROOT}… topics only`);
      ask.then(
        (refusal) => this.grant(client, session, sub, refusal === undefined, done, refusal),
        (err: Error) => {
          this.log.warn({ ...who(session), topic: sub.topic, err: err.message }, 'subscription check failed');
          this.grant(client, session, sub, false, done);
        },
      );
      return;
    }
    const allowed =
      session?.kind === 'device'
        ? maySubscribe(session.device.id, sub.topic)
        : session?.kind === 'service' && serviceMaySubscribe(session.rights, sub.topic);
    this.grant(client, session, sub, allowed, done);
  };

  private grant(
    client: Client,
    session: Session | undefined,
    sub: Subscription,
    allowed: boolean,
    done: (err: Error | null, sub?: Subscription | null) => void,
    reason?: string,
  ): void {
    const filters = this.filters.get(client) ?? new Set<string>();
    const max = this.options.maxSubscriptions ?? 100;
    const withinLimit = filters.has(sub.topic) || filters.size < max;
    if (allowed && withinLimit) {
      filters.add(sub.topic);
      this.filters.set(client, filters);
      done(null, sub);
      return;
    }
    if (allowed && session?.kind === 'reader') this.deps.sta?.unsubscribe(this.staReader(client, session), sub.topic);
    this.deps.stats.aclDenials++;
    this.deps.metrics.aclDenials.inc({ action: allowed ? 'subscription_limit' : 'subscribe' });
    this.log.warn(
      { ...who(session), topic: sub.topic, subscriptions: filters.size, ...(reason ? { reason } : {}) },
      allowed ? `subscribe denied: more than ${max} subscriptions` : 'subscribe denied',
    );
    // An ACL violation disconnects the client; the SUBACK with 0x80 goes out first so the client learns which
    // filter was refused instead of seeing a bare connection loss.
    this.refusedSubscribers.add(client);
    done(null, null);
  }

  /** After Aedes answered a SUBSCRIBE: a client refused any of its filters is disconnected. */
  readonly subscribed = (_subs: Subscription[], client: Client): void => {
    if (!this.refusedSubscribers.has(client)) return;
    this.refusedSubscribers.delete(client);
    this.log.warn({ ...who(this.sessions.get(client)) }, 'disconnected after a refused subscription');
    // mqtt-packet corks the socket until the next tick: close only after the SUBACK has left.
    setImmediate(() => client.close());
  };

  /** After an UNSUBSCRIBE: the filters no longer count towards the connection's limit. */
  readonly unsubscribed = (unsubscriptions: string[], client: Client): void => {
    const filters = this.filters.get(client);
    const reader = this.staReaders.get(client);
    for (const topic of unsubscriptions) {
      if (reader && filters?.has(topic)) this.deps.sta?.unsubscribe(reader, topic);
      filters?.delete(topic);
    }
  };

  /** Every delivery to a subscriber passes here: counted, never changed. */
  readonly authorizeForward = (_client: Client, packet: ForwardPacket): ForwardPacket => {
    const tally = this.deps.metrics.tally;
    tally.outByQos[packet.qos]++;
    tally.bytesOut += packet.payload.length;
    return packet;
  };
}
