import { decode as cborgDecode, type Token, Tokenizer, Type } from 'cborg';
import type { DecodeTokenizer } from 'cborg/interface';
import { isRecord } from '../../common/reading.ts';
import type { DeadLetterReason } from '../../registry/index.ts';
import { quoted, REASON, reason } from '../reasons.ts';
import { parseJson } from './json.ts';
import { type DecodeContext, type DecodeResult, fail, type RawReading } from './types.ts';

/** RFC 8428 §4.4: times below 2^28 s are relative to "now" (the receive time), larger ones are absolute epoch s. */
const RELATIVE_TIME_LIMIT = 2 ** 28;
/** RFC 8428 §4.4: version 10 is this spec; a pack asking for a later one may use fields this decoder ignores. */
const SENML_VERSION = 10;
const MAX_RECORDS = 1000;
/** Longest resolved name (base name + name); RFC 8428 sets none, real ones are URNs of a few dozen characters. */
const MAX_NAME_CHARS = 256;

/** Deepest CBOR nesting accepted: a SenML pack is an array of maps of plain values (two levels). */
export const MAX_CBOR_DEPTH = 16;

const isContainer = (t: Token) => Type.equals(t.type, Type.array) || Type.equals(t.type, Type.map);

/**
 * cborg's tokeniser with a bound on nesting: cborg decodes nested items by recursion, and 256 KiB of `0x81` (an
 * array holding an array …) would overflow the stack. Counts what each open array or map still holds, so it knows
 * when one closes; refuses to open one deeper than MAX_CBOR_DEPTH.
 */
class DepthLimitedTokenizer implements DecodeTokenizer {
  private readonly inner: Tokenizer;
  /** Items still expected by each open array or map, innermost last; Infinity for indefinite length. */
  private readonly open: number[] = [];

  constructor(bytes: Uint8Array) {
    this.inner = new Tokenizer(bytes, { allowIndefinite: true, allowUndefined: true, allowBigInt: true });
  }

  done(): boolean {
    return this.inner.done();
  }

  pos(): number {
    return this.inner.pos();
  }

  next(): Token {
    const t = this.inner.next();
    if (Type.equals(t.type, Type.break)) {
      this.open.pop();
      this.itemDone();
    } else if (isContainer(t)) {
      const items = Type.equals(t.type, Type.map) ? t.value * 2 : t.value;
      if (items === 0) this.itemDone();
      else {
        if (this.open.length >= MAX_CBOR_DEPTH) throw new Error(`nested deeper than ${MAX_CBOR_DEPTH} levels`);
        this.open.push(items);
      }
    } else this.itemDone();
    return t;
  }

  /** One item is complete: count it against its container, closing every container it completes. */
  private itemDone(): void {
    for (let top = this.open.length - 1; top >= 0; top--) {
      if (this.open[top] === Number.POSITIVE_INFINITY) return;
      this.open[top]! -= 1;
      if (this.open[top]! > 0) return;
      this.open.pop();
    }
  }
}

// cborg is pure JS (cbor-x needs native platform packages the registry mirror lacks); SenML CBOR labels are
// integer map keys, so maps come back as Maps and are turned into plain objects with string keys.
function decodeCborBytes(bytes: Buffer): unknown {
  const plain = (v: unknown): unknown => {
    // fromEntries defines own properties: a `__proto__` key stays a key and cannot replace the prototype.
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
    if (Array.isArray(v)) return v.map(plain);
    return v;
  };
  return plain(cborgDecode(bytes, { useMaps: true, tokenizer: new DepthLimitedTokenizer(bytes) }));
}
/** RFC 8428 §4.5.1: name characters; the first must be a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9\-:./_]*$/;
/** RFC 8428 §6: CBOR labels of the SenML fields. */
const CBOR_LABELS = new Map<number, string>([
  [-1, 'bver'],
  [-2, 'bn'],
  [-3, 'bt'],
  [-4, 'bu'],
  [-5, 'bv'],
  [-6, 'bs'],
  [0, 'n'],
  [1, 'u'],
  [2, 'v'],
  [3, 'vs'],
  [4, 'vb'],
  [5, 's'],
  [6, 't'],
  [7, 'ut'],
  [8, 'vd'],
]);

const KNOWN = new Set(CBOR_LABELS.values());

interface Base {
  bn: string;
  bt: number;
  bu: string | undefined;
  bv: number;
  bs: number;
}

/**
 * Splits a resolved SenML name into the device part (base name) and the quantity name at the last separator, `:` or
 * `/` (`urn:dev:mac:0024:temp`, `aq-1/pm2_5`).
 */
export function splitSenmlName(name: string): { device?: string; quantity: string } {
  const at = Math.max(name.lastIndexOf(':'), name.lastIndexOf('/'));
  if (at < 0) return { quantity: name };
  const device = name.slice(0, at);
  return device ? { device, quantity: name.slice(at + 1) } : { quantity: name.slice(at + 1) };
}

/** A value named in a reason: numbers, booleans and short strings as they are, anything else by its type. */
const describe = (v: unknown): string =>
  typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 32)
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? 'array'
      : typeof v;

const num = (rec: Record<string, unknown>, key: string): number | undefined | null => {
  const v = rec[key];
  if (v === undefined) return undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/**
 * Resolves a SenML pack (RFC 8428 §4.6): base fields apply to their record and every later one until replaced,
 * names are base name + name, values base value + value, times base time + time with relative times counted from
 * the receive time. Each record stands alone: a broken record is rejected with its index, the others go on.
 */
export function resolveSenml(pack: unknown, ctx: DecodeContext): DecodeResult {
  if (!Array.isArray(pack)) return fail(reason(REASON.INVALID_MESSAGE, 'a SenML pack must be an array of records'));
  if (pack.length === 0) return fail(reason(REASON.INVALID_MESSAGE, 'the SenML pack holds no records'));
  if (pack.length > MAX_RECORDS) {
    return fail(reason(REASON.INVALID_MESSAGE, `the SenML pack holds ${pack.length} records, at most ${MAX_RECORDS}`));
  }
  const base: Base = { bn: '', bt: 0, bu: undefined, bv: 0, bs: 0 };
  const readings: RawReading[] = [];
  const rejected: DeadLetterReason[] = [];
  let device: string | undefined;
  for (let i = 0; i < pack.length; i++) {
    const rec: unknown = pack[i];
    if (!isRecord(rec)) {
      rejected.push(reason(REASON.INVALID_MESSAGE, 'a SenML record must be an object', `${i}`));
      continue;
    }
    const mustUnderstand = Object.keys(rec).find((k) => k.endsWith('_') && !KNOWN.has(k));
    if (mustUnderstand !== undefined) {
      // RFC 8428 §4.4: a field ending in "_" must be understood, or the whole pack rejected.
      return fail(reason(REASON.INVALID_MESSAGE, `unsupported must-understand field '${mustUnderstand}'`, `${i}`));
    }
    const bver = num(rec, 'bver');
    if (bver === null || (bver !== undefined && bver > SENML_VERSION)) {
      return fail(
        reason(REASON.UNSUPPORTED_FORMAT, `SenML version ${describe(rec.bver)} is not supported (≤ 10)`, `${i}.bver`),
      );
    }
    const bad = (field: string, message: string) =>
      rejected.push(reason(REASON.INVALID_MESSAGE, message, `${i}.${field}`));
    if (rec.bn !== undefined) {
      if (typeof rec.bn !== 'string') {
        bad('bn', 'bn must be a string');
        continue;
      }
      base.bn = rec.bn;
    }
    let baseOk = true;
    for (const key of ['bt', 'bv', 'bs'] as const) {
      const v = num(rec, key);
      if (v === null) {
        bad(key, `${key} must be a finite number`);
        baseOk = false;
      } else if (v !== undefined) base[key] = v;
    }
    if (rec.bu !== undefined) {
      if (typeof rec.bu === 'string') base.bu = rec.bu;
      else {
        bad('bu', 'bu must be a string');
        baseOk = false;
      }
    }
    if (!baseOk) continue;

    const n = rec.n === undefined ? '' : rec.n;
    if (typeof n !== 'string') {
      bad('n', 'n must be a string');
      continue;
    }
    // Checked before the two are joined: a 200 KB base name over 1,000 records would otherwise cost 200 MB of
    // names to test, split and quote.
    const length = base.bn.length + n.length;
    if (length > MAX_NAME_CHARS) {
      bad('n', `the resolved name has ${length} characters, at most ${MAX_NAME_CHARS}`);
      continue;
    }
    const name = base.bn + n;
    if (!NAME.test(name)) {
      bad('n', `resolved name ${quoted(name)} is empty or holds characters RFC 8428 does not allow`);
      continue;
    }
    const t = num(rec, 't');
    if (t === null) {
      bad('t', 't must be a finite number');
      continue;
    }
    const seconds = base.bt + (t ?? 0);
    const hasValue = ['v', 'vs', 'vb', 'vd', 's'].some((k) => rec[k] !== undefined);
    // A record with neither time nor value carries only base fields (RFC 8428 §4.6 allows those).
    if (!hasValue) {
      if (n === '' && rec.t === undefined) continue;
      bad('v', 'the record has no value (v, vs, vb, vd or s)');
      continue;
    }
    const parts = splitSenmlName(name);
    if (parts.device !== undefined) device ??= parts.device;
    const unit = typeof rec.u === 'string' ? rec.u : base.bu;
    // Numeric values get the base value added; any other value type goes on as it is and is refused by the
    // number check of the normaliser with its own reason code.
    let value: unknown;
    let field = `${i}.v`;
    if (rec.v !== undefined) value = typeof rec.v === 'number' ? base.bv + rec.v : rec.v;
    else if (rec.s !== undefined) {
      value = typeof rec.s === 'number' ? base.bs + rec.s : rec.s;
      field = `${i}.s`;
    } else {
      const key = rec.vs !== undefined ? 'vs' : rec.vb !== undefined ? 'vb' : 'vd';
      value = rec[key] instanceof Uint8Array ? 'binary data' : rec[key];
      field = `${i}.${key}`;
    }
    const time = seconds < RELATIVE_TIME_LIMIT ? ctx.receivedAt + seconds * 1000 : seconds * 1000;
    const r: RawReading = { name: parts.quantity, value, time, field, unitField: `${i}.u` };
    if (unit !== undefined) r.unit = unit;
    readings.push(r);
  }
  return { ok: true, value: device === undefined ? { readings, rejected } : { device, readings, rejected } };
}

/** SenML JSON (RFC 8428 §5). */
export function decodeSenmlJson(payload: Buffer, ctx: DecodeContext): DecodeResult {
  const parsed = parseJson(payload);
  return parsed.ok ? resolveSenml(parsed.json, ctx) : parsed;
}

/** Integer CBOR labels → the JSON field names, so one resolver serves both representations. */
function relabel(rec: unknown): unknown {
  const entries = rec instanceof Map ? [...rec.entries()] : isRecord(rec) ? Object.entries(rec) : undefined;
  if (!entries) return rec;
  // fromEntries defines own properties: a `__proto__` key cannot replace the record's prototype.
  return Object.fromEntries(
    entries.map(([k, v]) => {
      // Labels are integers; decoded maps may hand them over as numbers or as their decimal strings.
      const n = typeof k === 'number' ? k : /^-?\d{1,3}$/.test(String(k)) ? Number(k) : Number.NaN;
      return [CBOR_LABELS.get(n) ?? String(k), v];
    }),
  );
}

/** SenML CBOR (RFC 8428 §6): integer labels, same resolution rules as JSON. */
export function decodeSenmlCbor(payload: Buffer, ctx: DecodeContext): DecodeResult {
  let pack: unknown;
  try {
    pack = decodeCborBytes(payload);
  } catch (err) {
    return fail(reason(REASON.MALFORMED_CBOR, `payload is not CBOR: ${(err as Error).message}`));
  }
  return resolveSenml(Array.isArray(pack) ? pack.map(relabel) : pack, ctx);
}
