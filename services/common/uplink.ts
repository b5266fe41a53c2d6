/**
 * Payload formats ingest understands; the name is the `{format}` of `POST /v1/ingest/{format}` and of the MQTT
 * channel `up/{format}`. One list for the decoders and the HTTP contract.
 */
export const FORMATS = ['canonical', 'senml', 'senml-cbor', 'ttn', 'chirpstack', 'sensor-community'] as const;
export type Format = (typeof FORMATS)[number];

export const isFormat = (s: string | null | undefined): s is Format =>
  typeof s === 'string' && (FORMATS as readonly string[]).includes(s);

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
