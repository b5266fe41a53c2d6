/** A message a device sent, as any source (in-process broker, MQTT client, HTTP push) hands it to ingest. */
export interface Uplink {
  device: string;
  topic: string;
  /** Topic part after the device id: `up` (canonical JSON), `up/senml`, … */
  channel: string;
  payload: Buffer;
  receivedAt: number;
  /** Stored as the `source` tag: `mqtt`, `http`, … */
  source: string;
}
