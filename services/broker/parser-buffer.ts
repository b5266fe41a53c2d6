import { createRequire } from 'node:module';

/** The part of `bl` (the byte queue mqtt-packet's parser reads from) used here. */
interface ByteQueue {
  length: number;
  append(buf: Buffer): unknown;
}
type ByteQueueClass = new () => ByteQueue;

/**
 * mqtt-packet's parser keeps its unparsed bytes in `bl()`, a BufferListStream: a full Duplex stream (readable and
 * writable state, buffers, listeners) per connection, of which the parser uses only the byte-queue methods
 * (append, consume, slice, readUInt8, toString). `bl` exports those alone as BufferList. Resolved from
 * mqtt-packet's own location, so it is the `bl` the parser was built against. Undefined when that layout is not
 * found (another version): nothing is replaced then.
 */
function plainByteQueue(): ByteQueueClass | undefined {
  try {
    const bl = fromMqttPacket('bl') as { BufferList?: unknown };
    return typeof bl.BufferList === 'function' ? (bl.BufferList as ByteQueueClass) : undefined;
  } catch {
    return undefined;
  }
}

/** `require` as mqtt-packet sees it (the copy Aedes uses): mqtt-packet itself is `./`. Throws when not found. */
function fromMqttPacket(id: string): unknown {
  const fromHere = createRequire(import.meta.url);
  const fromAedes = createRequire(fromHere.resolve('aedes'));
  const packetMain = fromAedes.resolve('mqtt-packet');
  return createRequire(packetMain)(id === './' ? packetMain : id);
}

/**
 * mqtt-packet writes its 2-byte numbers (packet ids, keepalive, topic lengths) from a cache of 65,536 Buffers built
 * at the first packet it writes: 6 MB of old space, and 65,536 objects every full collection marks, in a node whose
 * 10,000 connections hold ~100 MB (heap snapshot). Without it a number is a 2-byte slice of Buffer's pool. Must run
 * before the process writes its first MQTT packet; false when mqtt-packet's switch is not found (another version).
 */
export function uncachedPacketNumbers(): boolean {
  try {
    const packet = fromMqttPacket('./') as { writeToStream?: { cacheNumbers?: boolean } };
    const write = packet.writeToStream;
    if (!write || typeof write.cacheNumbers !== 'boolean') return false;
    write.cacheNumbers = false;
    return true;
  } catch {
    return false;
  }
}

const ByteQueue = plainByteQueue();

/**
 * Gives a new Aedes client's parser a plain byte queue instead of its Duplex stream: ~1 KB less live heap per
 * connection (bench:broker holds 10,000), and one stream fewer to construct per CONNECT. Only before the client
 * has read anything (right after `aedes.handle`); after a parse error mqtt-packet makes itself a new stream, which
 * is fine: the connection is being closed. Returns false when the parser or `bl` is not what this expects.
 */
export function leanParserBuffer(client: unknown): boolean {
  const parser = (client as { _parser?: { _list?: unknown } } | undefined)?._parser;
  const list = parser?._list as Partial<ByteQueue> | undefined;
  if (!ByteQueue || !parser || typeof list?.append !== 'function' || list.length !== 0) return false;
  parser._list = new ByteQueue();
  return true;
}
