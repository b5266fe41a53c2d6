import type { IPublishPacket } from 'mqtt';
import type { Logger } from '../../common/logger.ts';
import type { Service } from '../../common/service.ts';
import type { Uplink } from '../../common/uplink.ts';
import type { Format } from '../decoders/types.ts';
import type { Integration } from './integrations.ts';
import { MqttSubscriber, type SubscriberStats } from './mqtt-subscriber.ts';
import { deviceOfTopic } from './topics.ts';

/** What a source hands its messages to (the Ingestor). */
export interface UplinkSink {
  handle(u: Uplink, opts?: { format?: Format; department?: string }): Promise<unknown>;
}

/**
 * One external MQTT broker (The Things Stack, ChirpStack, any broker with canonical JSON or SenML) as a source.
 * With QoS 1 the PUBACK to the external broker goes out only after ingest took the message (spooled or
 * dead-lettered): if ingest refuses it (spool full), no PUBACK is sent and the broker redelivers it after reconnect.
 */
export class MqttSource {
  private readonly subscriber: MqttSubscriber;

  constructor(
    readonly integration: Integration,
    private readonly sink: UplinkSink,
    log: Logger,
    env: Record<string, string | undefined> = process.env,
  ) {
    const i = integration;
    this.subscriber = new MqttSubscriber(
      {
        url: i.url,
        username: i.username,
        password: i.passwordEnv ? env[i.passwordEnv] : i.password,
        clientId: i.clientId ?? `sus-${i.name}-${process.pid}`,
        topics: [i.topic],
        qos: i.qos,
      },
      (packet) => this.onMessage(packet),
      log,
    );
  }

  get stats(): SubscriberStats {
    return this.subscriber.stats;
  }

  start(): Promise<void> {
    return this.subscriber.start();
  }

  stop(): Promise<void> {
    return this.subscriber.stop();
  }

  private async onMessage(packet: IPublishPacket): Promise<void> {
    const i = this.integration;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const u: Uplink = {
      device: deviceOfTopic(packet.topic, i.format, i.deviceTopicLevel),
      topic: packet.topic,
      channel: i.format === 'canonical' ? 'up' : `up/${i.format}`,
      payload,
      receivedAt: Date.now(),
      source: `mqtt:${i.name}`,
    };
    await this.sink.handle(
      u,
      i.department === undefined ? { format: i.format } : { format: i.format, department: i.department },
    );
  }
}

/** Every configured integration (The Things Stack, ChirpStack, …) feeding the same pipeline as the own broker. */
export class IntegrationSources implements Service {
  readonly sources: MqttSource[];

  constructor(integrations: readonly Integration[], sink: UplinkSink, log: Logger) {
    this.sources = integrations.map(
      (i) => new MqttSource(i, sink, log.child({ component: 'source', integration: i.name })),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.stop()));
  }
}
