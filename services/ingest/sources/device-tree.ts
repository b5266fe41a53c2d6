import { hostname } from 'node:os';
import type { IPublishPacket } from 'mqtt';
import { type Config, redactUrl } from '../../common/config.ts';
import { SusError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Service } from '../../common/service.ts';
import { parseDeviceTopic } from '../../common/topics.ts';
import type { Uplink } from '../../common/uplink.ts';
import type { UplinkSink } from './mqtt-source.ts';
import {
  MqttSubscriber,
  type SubscriberOptions,
  type SubscriberStats,
  type SubscriptionPlan,
} from './mqtt-subscriber.ts';

/** The settings of `sus ingest` as a client of the city's broker (SUS_INGEST_MQTT_*). */
export function deviceTreeOptions(config: Config): SubscriberOptions {
  const url = config.SUS_INGEST_MQTT_URL;
  if (!url)
    throw new SusError(
      'SUS_ERR_CONFIG',
      'sus ingest needs SUS_INGEST_MQTT_URL: the MQTT broker the devices publish to (mqtt://, mqtts://, ws://, wss://)',
      500,
    );
  const group = config.SUS_INGEST_MQTT_SHARE_GROUP;
  return {
    url,
    username: config.SUS_INGEST_MQTT_USERNAME,
    password: config.SUS_INGEST_MQTT_PASSWORD,
    clientId: config.SUS_INGEST_MQTT_CLIENT_ID ?? `sus-ingest-${hostname()}`,
    topics: config.SUS_INGEST_MQTT_TOPICS,
    qos: 1,
    sessionExpiryS: config.SUS_INGEST_MQTT_SESSION_EXPIRY_S,
    shareGroup: group === 'off' ? undefined : group,
    caFile: config.SUS_INGEST_MQTT_CA,
  };
}

/**
 * The device topic tree (`sus/v1/devices/{id}/up…`) of another broker (Mosquitto, EMQX, HiveMQ) as ingest's source:
 * each message becomes the same Uplink the embedded broker hands over (source `mqtt`, the channel choosing the
 * decoder) and goes through the one pipeline; it is acknowledged to the broker once spooled or dead-lettered.
 * The other broker authenticates the devices and keeps each in its topics; ingest trusts the topic's device id.
 */
export class DeviceTreeSource implements Service {
  private readonly subscriber: MqttSubscriber;
  /** The broker's URL as logs may show it. */
  readonly url: string;
  readonly clientId: string;

  constructor(options: SubscriberOptions, sink: UplinkSink, log: Logger) {
    this.url = redactUrl(options.url);
    this.clientId = options.clientId;
    this.subscriber = new MqttSubscriber(options, (packet) => sink.handle(uplinkOf(packet)).then(() => undefined), log);
  }

  get stats(): SubscriberStats {
    return this.subscriber.stats;
  }

  get plan(): SubscriptionPlan | undefined {
    return this.subscriber.plan;
  }

  start(): Promise<void> {
    return this.subscriber.start();
  }

  stop(): Promise<void> {
    return this.subscriber.stop();
  }
}

/** A device-tree message as an Uplink; a topic outside the tree names no device (ingest dead-letters it). */
export function uplinkOf(packet: Pick<IPublishPacket, 'topic' | 'payload'>): Uplink {
  const t = parseDeviceTopic(packet.topic);
  return {
    device: t?.device ?? '',
    topic: packet.topic,
    channel: t?.channel ?? 'up',
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    receivedAt: Date.now(),
    source: 'mqtt',
  };
}
