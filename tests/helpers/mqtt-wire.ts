/** MQTT 3.1.1 wire pieces for tests and benches that speak raw MQTT (section 2.2.3 and 1.5.3 of the spec). */

/** Bytes of the MQTT "remaining length" varint. */
export function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A fixed header: the packet type byte and the remaining length it announces. */
export const fixedHeader = (type: number, length: number): Buffer => Buffer.from([type, ...remainingLength(length)]);

/** A whole packet: fixed header and body. */
export const mqttPacket = (type: number, body: Buffer): Buffer => Buffer.concat([fixedHeader(type, body.length), body]);

/** A length-prefixed UTF-8 string. */
export function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
}
