import { decodeCanonical } from './canonical.ts';
import { decodeChirpstack } from './chirpstack.ts';
import { decodeSenmlCbor, decodeSenmlJson } from './senml.ts';
import { decodeSensorCommunity } from './sensor-community.ts';
import { decodeTtn } from './ttn.ts';
import { type Decoder, type Format, isFormat } from './types.ts';

export { canonicalReadings } from './canonical.ts';
export { splitSenmlName } from './senml.ts';
export * from './types.ts';

export const DECODERS: Record<Format, Decoder> = {
  canonical: decodeCanonical,
  senml: decodeSenmlJson,
  'senml-cbor': decodeSenmlCbor,
  ttn: decodeTtn,
  chirpstack: decodeChirpstack,
  'sensor-community': decodeSensorCommunity,
};

/**
 * The format of a device topic channel: `up` is canonical JSON, `up/{format}` any other format (`up/senml`,
 * `up/senml-cbor`, …). A `+` cannot appear in an MQTT topic name, hence `senml-cbor` rather than `senml+cbor`.
 */
export function formatOfChannel(channel: string): Format | undefined {
  if (channel === 'up') return 'canonical';
  if (!channel.startsWith('up/')) return undefined;
  const f = channel.slice(3);
  return isFormat(f) ? f : undefined;
}
