import { Counter, Gauge, type Registry } from 'prom-client';

export type AuthFailureReason =
  | 'missing_credentials'
  | 'bad_credentials'
  | 'client_id'
  | 'throttled'
  | 'too_many_connections'
  | 'registry_unavailable'
  | 'certificate';

/** Running totals of this node, for the `sus_broker` self-metrics (deltas per interval). */
export interface BrokerStats {
  connects: number;
  authFailures: number;
  aclDenials: number;
  messagesIn: number;
}

type ByQos = [qos0: number, qos1: number, qos2: number];

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
  readonly retainStripped: Counter<'source'>;
  readonly sessionQueueDropped: Counter;
  /**
   * Per-message tallies as plain numbers, copied into the counters when /metrics is scraped: prom-client's `inc()`
   * per PUBLISH cost ~1 % of the broker's CPU at fan-in rates (bench:ingest profile).
   */
  readonly tally: { inByQos: ByQos; bytesIn: number; outByQos: ByQos; bytesOut: number } = {
    inByQos: [0, 0, 0],
    bytesIn: 0,
    outByQos: [0, 0, 0],
    bytesOut: 0,
  };

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
    const tally = this.tally;
    this.messagesIn = new Counter({
      name: 'sus_mqtt_messages_in_total',
      help: 'Accepted PUBLISH packets from clients, by QoS',
      labelNames: ['qos'],
      registers,
      collect() {
        copyByQos(this, tally.inByQos);
      },
    });
    this.bytesIn = new Counter({
      name: 'sus_mqtt_bytes_in_total',
      help: 'Payload bytes accepted',
      registers,
      collect() {
        copyTotal(this, tally.bytesIn);
      },
    });
    this.messagesOut = new Counter({
      name: 'sus_mqtt_messages_out_total',
      help: 'Messages delivered to clients, by QoS',
      labelNames: ['qos'],
      registers,
      collect() {
        copyByQos(this, tally.outByQos);
      },
    });
    this.bytesOut = new Counter({
      name: 'sus_mqtt_bytes_out_total',
      help: 'Payload bytes delivered',
      registers,
      collect() {
        copyTotal(this, tally.bytesOut);
      },
    });
    this.disconnectsForced = new Counter({
      name: 'sus_mqtt_forced_disconnects_total',
      help: 'Sessions the broker closed: ACL violation, credential rotation',
      labelNames: ['reason'],
      registers,
    });
    this.retainStripped = new Counter({
      name: 'sus_mqtt_retain_stripped_total',
      help: 'Retain flags removed from client publishes and wills: only the platform keeps retained messages',
      labelNames: ['source'],
      registers,
    });
    this.sessionQueueDropped = new Counter({
      name: 'sus_mqtt_session_queue_dropped_total',
      help: 'Messages not queued for a persistent session that already holds SUS_MQTT_SESSION_QUEUE_MESSAGES',
      registers,
    });
  }
}

function copyTotal(counter: Counter, n: number): void {
  counter.reset();
  counter.inc(n);
}

/** A QoS-labelled counter set to the tallies (a QoS never seen stays absent, as before). */
function copyByQos(counter: Counter<'qos'>, byQos: readonly number[]): void {
  counter.reset();
  byQos.forEach((n, qos) => {
    if (n > 0) counter.inc({ qos }, n);
  });
}
