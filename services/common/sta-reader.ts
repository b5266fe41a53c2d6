/**
 * The contract between the broker (layer 1), which holds a SensorThings reader's MQTT connection, and the
 * SensorThings MQTT read extension (layer 3, services/api/sta/mqtt.ts), which decides its subscriptions and feeds
 * it. The composition root hands one to the other; neither layer imports the other.
 */

/** One reader connection (MQTT user `sta`): who reads, how a notification reaches it, how it is ended. */
export interface StaReader {
  /** The key's department; null: a platform-wide key; undefined: anonymous (public grants only). */
  readonly department: string | null | undefined;
  readonly keyId: string | null;
  /** False once the connection closed: a subscription granted after that (a slow registry) is not kept. */
  readonly open: boolean;
  deliver(topic: string, payload: Buffer): void;
  /** Closes the connection: a subscription it holds is no longer authorised. */
  end(reason: string): void;
}

/**
 * The read extension as the broker calls it: decides a reader's subscriptions to `v1.1/…` by the API's grant rule
 * and delivers to each reader what it may read, straight to its connection (a topic like `v1.1/Observations`
 * carries different data to different readers).
 */
export interface StaReadAccess {
  /** undefined: granted; else why not (logged with the topic, SUBACK 0x80). */
  subscribe(reader: StaReader, topic: string): Promise<string | undefined>;
  unsubscribe(reader: StaReader, topic: string): void;
  released(reader: StaReader): void;
}
