import { parseArgs } from 'node:util';
import { catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import { type DeviceProfile, decodeOffline, FORMATS, isFormat, loadProfileFile } from '../ingest/index.ts';
import type { DeadLetterReason } from '../registry/index.ts';

export const DECODE_HELP = `sus decode --format <${FORMATS.join('|')}> [--device ID] [--profile FILE]

Reads one payload on stdin and prints one JSON line per normalised reading. Rejections go to stderr as
"CODE field: message" lines and the exit code is 2. Nothing is stored: this is the ingest pipeline without
the registry, for debugging a sensor.`;

export interface DecodeIo {
  stdin: AsyncIterable<Buffer | string>;
  out: (s: string) => void;
  err: (s: string) => void;
  now?: () => number;
}

async function readAll(stdin: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

const formatReason = (r: DeadLetterReason) => `${r.code}${r.field ? ` ${r.field}` : ''}: ${r.message}\n`;

/** `sus decode`: exit 0 when every value was accepted, 2 when anything was rejected, 1 on a usage error. */
export async function runDecode(
  args: string[],
  config: Pick<Config, 'SUS_MAX_AGE_S' | 'SUS_MAX_SKEW_S' | 'SUS_PLAUSIBILITY' | 'SUS_MAX_PAYLOAD_BYTES'>,
  io: DecodeIo,
): Promise<number> {
  let values: { format?: string; device?: string; profile?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: { format: { type: 'string' }, device: { type: 'string' }, profile: { type: 'string' } },
    }));
  } catch (err) {
    io.err(`sus decode: ${(err as Error).message}\n\n${DECODE_HELP}\n`);
    return 1;
  }
  if (!values.format || !isFormat(values.format)) {
    io.err(`sus decode: --format must be one of ${FORMATS.join(', ')}\n\n${DECODE_HELP}\n`);
    return 1;
  }
  let profile: DeviceProfile | undefined;
  if (values.profile) {
    try {
      profile = loadProfileFile(values.profile, catalogue);
    } catch (err) {
      io.err(`sus decode: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const payload = await readAll(io.stdin);
  const n = decodeOffline(
    values.format,
    payload,
    { device: values.device, profile, receivedAt: io.now?.() ?? Date.now() },
    {
      maxPayloadBytes: config.SUS_MAX_PAYLOAD_BYTES,
      timePolicy: { maxAgeMs: config.SUS_MAX_AGE_S * 1000, maxSkewMs: config.SUS_MAX_SKEW_S * 1000 },
      plausibility: config.SUS_PLAUSIBILITY,
    },
  );
  const { device } = n;
  for (const r of n.readings) {
    const line: Record<string, unknown> = {
      device,
      quantity: r.quantity,
      value: r.value,
      unit: r.unit,
      time: new Date(r.time).toISOString(),
    };
    if (r.flags) line.flags = r.flags;
    io.out(`${JSON.stringify(line)}\n`);
  }
  for (const r of n.rejected) io.err(formatReason(r));
  return n.rejected.length > 0 ? 2 : 0;
}
