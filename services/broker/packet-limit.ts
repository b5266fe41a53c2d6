/**
 * What an MQTT packet may carry besides its payload: a topic at MQTT's maximum (64 KiB), the packet id and, for a
 * CONNECT, the short fields around a will (client id, username, password, protocol name).
 */
export const PACKET_OVERHEAD_BYTES = 65_536 + 1_024;

/** The largest packet (its remaining length) the broker reads: the payload limit plus the protocol's overhead. */
export function maxPacketBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + PACKET_OVERHEAD_BYTES;
}

/** The part of mqtt-packet's parser (one per Aedes client, `client._parser`) the limit below relies on. */
interface PacketParser {
  packet: { length: number; cmd?: string };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

function isPacketParser(v: unknown): v is PacketParser {
  const p = v as Partial<Record<keyof PacketParser, unknown>> | undefined;
  return typeof p?._parseLength === 'function' && typeof p._emitError === 'function' && typeof p.packet === 'object';
}

/**
 * Refuses a packet as soon as its fixed header announces more than `maxBytes`: mqtt-packet would otherwise buffer
 * up to 256 MB per connection until the packet is complete, before login as well as after. The error closes the
 * connection (Aedes treats a parser error as a client error). Returns false when the parser is not what this
 * expects (another mqtt-packet version): the caller logs it, nothing is limited.
 */
export function limitPacketSize(client: unknown, maxBytes: number): boolean {
  const parser: unknown = (client as { _parser?: unknown } | undefined)?._parser;
  if (!isPacketParser(parser)) return false;
  const parseLength = parser._parseLength;
  parser._parseLength = function limitedParseLength(this: PacketParser): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      this._emitError(
        new Error(
          `${this.packet.cmd ?? 'MQTT'} packet of ${this.packet.length} bytes exceeds the limit of ${maxBytes}`,
        ),
      );
      return false;
    }
    return complete;
  };
  return true;
}
