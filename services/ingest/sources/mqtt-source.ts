import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../../common/logger.ts';
import type { Service } from '../../common/service.ts';
import type { Uplink } from '../../common/uplink.ts';
import type { Format } from '../decoders/types.ts';
import type { Integration } from './integrations.ts';
import { deviceOfTopic } from './topics.ts';

/** What a source hands its messages to (the Ingestor). */
export interface UplinkSink {
  handle(u: Uplink, opts?: { format?: Format; department?: string }): Promise<unknown>;
}

export interface SourceStats {
  received: number;
  failed: number;
  connects: number;
}

/**
 * One external MQTT broker (The Things Stack, ChirpStack, any broker with canonical JSON or SenML) as a source.
 * With QoS 1 the PUBACK to the external broker goes out only after ingest took the message (spooled or
 * dead-lettered): if ingest refuses it (spool full), no PUBACK is sent and the broker redelivers it after reconnect.
 */
export class MqttSource {
  readonly stats: SourceStats = { received: 0, failed: 0, connects: 0 };
  private client: MqttClient | undefined;

  constructor(
    readonly integration: Integration,
    private readonly sink: UplinkSink,
    private readonly log: Logger,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  async start(): Promise<void> {
    const i = this.integration;
    const password = i.passwordEnv ? this.env[i.passwordEnv] : i.password;
    const client = mqtt.connect(i.url, {
      username: i.username,
      password,
      clientId: i.clientId ?? `sus-${i.name}-${process.pid}`,
      // A persistent session keeps QoS 1 messages at the external broker while this process is away.
      clean: false,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('connect', () => {
      this.stats.connects++;
      this.log.info({ integration: i.name, url: i.url, topic: i.topic }, 'integration connected');
      client.subscribe(i.topic, { qos: i.qos }, (err) => {
        if (err) this.log.error({ integration: i.name, err: err.message }, 'integration subscribe failed');
      });
    });
    client.on('error', (err) => this.log.warn({ integration: i.name, err: err.message }, 'integration error'));
    // mqtt.js sends the PUBACK when this callback is called: after ingest has the message, never before.
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      this.onMessage(packet).then(
        () => done(),
        (err: Error) => {
          this.stats.failed++;
          this.log.error({ integration: i.name, topic: packet.topic, err: err.message }, 'ingest refused the message');
          // Without the acknowledgement the broker redelivers on the next session.
          client.end(true, () => void client.reconnect());
        },
      );
    };
    await new Promise<void>((resolve) => {
      // Startup does not wait for a slow or absent external broker: mqtt.js keeps reconnecting in the background.
      client.once('connect', () => resolve());
      client.once('error', () => resolve());
      setTimeout(resolve, 3000).unref();
    });
  }

  private async onMessage(packet: IPublishPacket): Promise<void> {
    const i = this.integration;
    this.stats.received++;
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

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync();
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
