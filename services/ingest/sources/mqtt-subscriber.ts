import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { redactUrl as redact } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';

/** MQTT 5 SUBACK reason code: the server has no shared subscriptions. */
const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9e;

export interface SubscriberOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Stable across restarts: the broker keeps the persistent session (and its unacknowledged messages) under it. */
  clientId: string;
  topics: readonly string[];
  qos: 0 | 1;
  /** MQTT 5 with this session expiry (seconds); absent: MQTT 3.1.1 with a persistent session (`clean: false`). */
  sessionExpiryS?: number | undefined;
  /** MQTT 5 shared subscription group: several subscribers with one group share the messages ($share/group/…). */
  shareGroup?: string | undefined;
  /** PEM file of the CA of an mqtts:// or wss:// broker's certificate (else the system's CAs). */
  caFile?: string | undefined;
}

export interface SubscriberStats {
  received: number;
  failed: number;
  connects: number;
}

/** How the topics are subscribed: shared in a group when the broker offers it, else as they are. */
export interface SubscriptionPlan {
  filters: string[];
  shared: boolean;
  /** Why the subscription is not shared although a group was set. */
  fallback?: string;
}

/**
 * The filters to subscribe: `$share/<group>/<topic>` for a group, unless the broker's CONNACK says it has no shared
 * subscriptions (MQTT 5 `sharedSubscriptionAvailable: false`) or a SUBACK refused them before.
 */
export function subscriptionPlan(
  topics: readonly string[],
  shareGroup: string | undefined,
  connack: Pick<IConnackPacket, 'properties'> | undefined,
  refused = false,
): SubscriptionPlan {
  const plain = { filters: [...topics], shared: false };
  if (!shareGroup) return plain;
  if (connack?.properties?.sharedSubscriptionAvailable === false)
    return { ...plain, fallback: 'the broker says it has no shared subscriptions (CONNACK)' };
  if (refused) return { ...plain, fallback: 'the broker refused the shared subscription (SUBACK)' };
  return { filters: topics.map((t) => `$share/${shareGroup}/${t}`), shared: true };
}

/**
 * An MQTT client of another broker whose messages are acknowledged only once `deliver` resolved (ingest spooled or
 * dead-lettered them): at-least-once from the broker into the spool. mqtt.js sends a QoS 1 PUBACK when its
 * `handleMessage` callback is called, and takes the next message only then. A delivery that fails (spool full,
 * registry away) ends the connection without the PUBACK: the broker keeps the message in the persistent session and
 * sends it again after the reconnect.
 */
export class MqttSubscriber {
  readonly stats: SubscriberStats = { received: 0, failed: 0, connects: 0 };
  private client: MqttClient | undefined;
  private refused = false;
  /** The last plan subscribed, for the log and for tests. */
  plan: SubscriptionPlan | undefined;

  constructor(
    private readonly options: SubscriberOptions,
    private readonly deliver: (packet: IPublishPacket) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Resolves once subscribed, or after `waitMs` without (startup does not wait for an absent broker). */
  async start(waitMs = 3000): Promise<void> {
    const o = this.options;
    const mqtt5 = o.sessionExpiryS !== undefined;
    const opts: IClientOptions = {
      username: o.username,
      password: o.password,
      clientId: o.clientId,
      // A persistent session keeps QoS 1 messages at the broker while this process is away (restart, crash).
      clean: false,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      // Subscribed on every connect below: the plan depends on what the broker answered.
      resubscribe: false,
    };
    if (mqtt5) Object.assign(opts, { protocolVersion: 5, properties: { sessionExpiryInterval: o.sessionExpiryS } });
    if (o.caFile) opts.ca = readFileSync(o.caFile);
    const client = mqtt.connect(o.url, opts);
    this.client = client;
    let subscribed: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      subscribed = resolve;
    });
    client.on('connect', (connack) => {
      this.stats.connects++;
      this.subscribe(client, connack, subscribed);
    });
    client.on('error', (err) => this.log.warn({ url: redact(o.url), err: err.message }, 'MQTT source error'));
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      this.stats.received++;
      this.deliver(packet).then(
        () => done(),
        (err: Error) => {
          this.stats.failed++;
          this.log.error({ topic: packet.topic, err: err.message }, 'ingest refused the message; not acknowledged');
          // Without the acknowledgement the broker sends it again on the next connection of this session (unless
          // this source is being stopped: then at its next start).
          client.end(true, () => {
            if (this.client === client) client.reconnect();
          });
        },
      );
    };
    const timer = setTimeout(subscribed, waitMs);
    timer.unref();
    await ready;
    clearTimeout(timer);
  }

  private subscribe(client: MqttClient, connack: IConnackPacket, subscribed: () => void): void {
    const o = this.options;
    const plan = subscriptionPlan(o.topics, o.shareGroup, connack, this.refused);
    client.subscribe(plan.filters, { qos: o.qos }, (err, granted) => {
      const code = (err as (Error & { code?: number }) | null)?.code;
      if (err && plan.shared && (code === SHARED_SUBSCRIPTIONS_NOT_SUPPORTED || code === 0x80)) {
        // Fall back once, loudly: without a shared subscription every node receives every message.
        this.refused = true;
        this.subscribe(client, connack, subscribed);
        return;
      }
      if (err) {
        this.log.error({ filters: plan.filters, err: err.message }, 'MQTT subscribe failed');
        return;
      }
      this.plan = plan;
      const fields = {
        url: redact(o.url),
        clientId: o.clientId,
        filters: plan.filters,
        sessionPresent: connack.sessionPresent,
      };
      if (plan.fallback)
        this.log.warn(
          { ...fields, fallback: plan.fallback },
          'subscribed WITHOUT a shared subscription: run a single ingest node on this broker, or every node stores every message',
        );
      else this.log.info({ ...fields, granted: granted?.map((g) => g.qos) }, 'MQTT source subscribed');
      subscribed();
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.log.info({ clientId: this.options.clientId, ...this.stats }, 'MQTT source stopping');
    // A clean DISCONNECT keeps the session: messages queued for it wait for the next start under the same client id.
    if (client) await client.endAsync();
  }
}
