import { Counter, Gauge, type Registry } from 'prom-client';

export type AuthFailureReason =
  | 'missing_credentials'
  | 'bad_credentials'
  | 'client_id'
  | 'throttled'
  | 'too_many_connections'
  | 'registry_unavailable'
  | 'certificate';

/** The broker's Prometheus series; registered in the process registry that the API serves on /metrics. */
export class BrokerMetrics {
  readonly connected: Gauge;
  readonly connects: Counter;
  readonly authFailures: Counter<'reason'>;
  readonly aclDenials: Counter<'action'>;
  readonly messagesIn: Counter<'qos'>;
  readonly bytesIn: Counter;
  readonly messagesOut: Counter<'qos'>;
  readonly bytesOut: Counter;
  readonly disconnectsForced: Counter<'reason'>;
  // Per-message counters resolved once per QoS: a label lookup per PUBLISH is measurable at fan-in rates.
  readonly inByQos: Counter.Internal[];
  readonly outByQos: Counter.Internal[];

  constructor(registry: Registry | undefined, connectedClients: () => number) {
    const registers = registry ? [registry] : [];
    this.connected = new Gauge({
      name: 'sus_mqtt_connected_clients',
      help: 'MQTT clients connected to this broker node',
      registers,
      collect() {
        this.set(connectedClients());
      },
    });
    this.connects = new Counter({
      name: 'sus_mqtt_connects_total',
      help: 'Successful MQTT logins',
      registers,
    });
    this.authFailures = new Counter({
      name: 'sus_mqtt_auth_failures_total',
      help: 'Refused MQTT logins by reason',
      labelNames: ['reason'],
      registers,
    });
    this.aclDenials = new Counter({
      name: 'sus_mqtt_acl_denials_total',
      help: 'Publishes and subscriptions refused by the topic ACL or the payload limit',
      labelNames: ['action'],
      registers,
    });
    this.messagesIn = new Counter({
      name: 'sus_mqtt_messages_in_total',
      help: 'Accepted PUBLISH packets from clients, by QoS',
      labelNames: ['qos'],
      registers,
    });
    this.bytesIn = new Counter({ name: 'sus_mqtt_bytes_in_total', help: 'Payload bytes accepted', registers });
    this.messagesOut = new Counter({
      name: 'sus_mqtt_messages_out_total',
      help: 'Messages delivered to clients, by QoS',
      labelNames: ['qos'],
      registers,
    });
    this.bytesOut = new Counter({ name: 'sus_mqtt_bytes_out_total', help: 'Payload bytes delivered', registers });
    this.disconnectsForced = new Counter({
      name: 'sus_mqtt_forced_disconnects_total',
      help: 'Sessions the broker closed: ACL violation, credential rotation',
      labelNames: ['reason'],
      registers,
    });
    this.inByQos = [0, 1, 2].map((qos) => this.messagesIn.labels({ qos }));
    this.outByQos = [0, 1, 2].map((qos) => this.messagesOut.labels({ qos }));
  }
}
