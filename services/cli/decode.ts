import { parseArgs } from 'node:util';
import { catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import { DECODERS, FORMATS, IDENTITY_FORMATS, isFormat } from '../ingest/decoders/index.ts';
import { normaliseDecoded } from '../ingest/normalise.ts';
import { type DeviceProfile, loadProfileFile } from '../ingest/profiles.ts';
import { REASON, reason } from '../ingest/reasons.ts';
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
  const receivedAt = io.now?.() ?? Date.now();
  if (payload.length > config.SUS_MAX_PAYLOAD_BYTES) {
    const r = reason(
      REASON.PAYLOAD_TOO_LARGE,
      `${payload.length} bytes exceed the limit of ${config.SUS_MAX_PAYLOAD_BYTES}`,
    );
    io.err(formatReason(r));
    return 2;
  }
  const d = DECODERS[values.format](payload, { receivedAt });
  if (!d.ok) {
    for (const r of d.reasons) io.err(formatReason(r));
    return 2;
  }
  // LoRaWAN and sensor.community payloads name their device; for the others --device says who sent it.
  const identity = IDENTITY_FORMATS.has(values.format);
  const device = (identity ? d.value.device : (values.device ?? d.value.device)) ?? null;
  const n = normaliseDecoded(d.value, device ?? '', profile, receivedAt, catalogue, {
    timePolicy: { maxAgeMs: config.SUS_MAX_AGE_S * 1000, maxSkewMs: config.SUS_MAX_SKEW_S * 1000 },
    plausibility: config.SUS_PLAUSIBILITY,
  });
  if (identity && values.device && d.value.device && values.device !== d.value.device) {
    n.rejected.unshift(
      reason(REASON.DEVICE_MISMATCH, `the payload names device '${d.value.device}', --device is '${values.device}'`),
    );
  }
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
