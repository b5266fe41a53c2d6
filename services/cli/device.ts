/**
 * `sus device …`: field provisioning for technicians, against a running platform's API (so it works from a laptop
 * on site, and never opens the platform's registry beside it).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import type { z } from 'zod';
import {
  ClaimCodeSchema,
  CreatedDeviceSchema,
  DeadLettersPageSchema,
  DeviceSchema,
  DeviceStatusSchema,
  ReadingsPageSchema,
} from '../common/api-contract.ts';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import { type Bundle, brokerUrls, CredentialsSchema, provisioningBundle } from '../common/provisioning.ts';

const DeviceRefSchema = DeviceSchema.pick({ id: true, department: true, type: true });

export interface ApiTarget {
  url: string;
  key: string | undefined;
}

export function apiTarget(config: Config, url?: string, key?: string): ApiTarget {
  return {
    url: (url ?? config.SUS_API_URL ?? `http://127.0.0.1:${config.SUS_HTTP_PORT}`).replace(/\/$/, ''),
    key: key ?? config.SUS_API_KEY ?? config.SUS_ADMIN_KEY,
  };
}

async function call<T>(api: ApiTarget, method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(api.key ? { authorization: `Bearer ${api.key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new SusError('SUS_ERR_API_UNREACHABLE', `cannot reach the API at ${api.url}: ${(err as Error).message}`, 503);
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text;
    try {
      const problem = JSON.parse(text) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? text;
    } catch {
      // not a problem+json body: show it as it came
    }
    throw new SusError('SUS_ERR_API', `${method} ${path} → ${res.status}: ${detail}`, res.status);
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new SusError('SUS_ERR_API_RESPONSE', `${method} ${path}: unexpected response (${parsed.error.message})`, 502);
  }
  return parsed.data;
}

/**
 * MQTT URLs for bundles: --mqtt-url, else SUS_PUBLIC_MQTT_URL, else the API's host on SUS_MQTT_PORT (and on
 * SUS_MQTTS_PORT first when TLS is on), as the API's claim flow names them.
 */
export function mqttUrlsFor(config: Config, api: ApiTarget, flag?: string): string[] {
  return brokerUrls(config, new URL(api.url).hostname, flag ?? config.SUS_PUBLIC_MQTT_URL);
}

export interface NewDevice {
  id?: string;
  name: string;
  department: string;
  type: string;
  district?: string;
  lat?: number;
  lon?: number;
}

/** Registers a device and returns its bundle (the password in it is shown this once). */
export async function addDevice(api: ApiTarget, d: NewDevice, mqttUrls: string[], ca: string | null): Promise<Bundle> {
  const { device, credentials } = await call(api, 'POST', '/v1/devices', CreatedDeviceSchema, d);
  return provisioningBundle(device, credentials, mqttUrls, ca);
}

/** A fresh bundle for an existing device: rotates its password, so an older bundle stops working. */
export async function rebundleDevice(api: ApiTarget, id: string, mqttUrls: string[], ca: string | null) {
  const path = `/v1/devices/${encodeURIComponent(id)}`;
  const device = await call(api, 'GET', path, DeviceRefSchema);
  const credentials = await call(api, 'POST', `${path}/credentials`, CredentialsSchema);
  return provisioningBundle(device, credentials, mqttUrls, ca);
}

/** A one-time, expiring claim code (the API's claim flow, `POST /v1/claims`). */
export async function createClaimCode(
  api: ApiTarget,
  body: { department: string; type: string; ttlS?: number },
): Promise<z.infer<typeof ClaimCodeSchema>> {
  return call(api, 'POST', '/v1/claims', ClaimCodeSchema, body);
}

// ---------------------------------------------------------------------------------------------------------------
// sus device check: the technician's live view
// ---------------------------------------------------------------------------------------------------------------

export interface CheckOptions {
  pollMs?: number;
  /** Messages shown from before the start (default 5). */
  history?: number;
  signal?: AbortSignal;
  write: (line: string) => void;
}

const fmtValue = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3))));

/** One line per status change (connection state, battery, signal). */
export function statusLine(
  s: Pick<z.infer<typeof DeviceStatusSchema>, 'device' | 'state' | 'lastSeenAt' | 'battery' | 'signal'>,
): string {
  const parts = [`device ${s.device}`, s.state, `last seen ${s.lastSeenAt ?? 'never'}`];
  if (s.battery !== null) parts.push(`battery ${fmtValue(s.battery)} V`);
  if (s.signal !== null) parts.push(`signal ${fmtValue(s.signal)} dBm`);
  return parts.join(' · ');
}

/**
 * Polls the API and prints, in time order, every message of the device as it arrives: the decoded values of a
 * stored reading, or the reasons a message went to the dead-letter store. Runs until the signal aborts.
 */
export async function checkDevice(api: ApiTarget, id: string, o: CheckOptions): Promise<void> {
  const pollMs = o.pollMs ?? 2000;
  const enc = encodeURIComponent(id);
  let lastStatus = '';
  // The first poll shows the last day's messages (the newest `history` of them), later polls only what is new.
  let sinceMs = Date.now() - 24 * 3600_000 - 1;
  let lastDeadLetter = 0;
  let first = true;
  while (!o.signal?.aborted) {
    try {
      const status = await call(api, 'GET', `/v1/devices/${enc}/status`, DeviceStatusSchema);
      const line = statusLine(status);
      if (line !== lastStatus) o.write(line);
      lastStatus = line;
      const from = sinceMs + 1;
      const [{ readings }, { deadLetters }] = await Promise.all([
        call(api, 'GET', `/v1/readings?device=${enc}&from=${from}&limit=1000`, ReadingsPageSchema),
        call(api, 'GET', `/v1/dead-letters?device=${enc}&limit=100`, DeadLettersPageSchema),
      ]);
      // One message = the readings that share a timestamp.
      const messages = new Map<string, string[]>();
      for (const r of readings) {
        const values = messages.get(r.time) ?? [];
        values.push(`${r.quantity}=${fmtValue(r.value)} ${r.unit}`);
        messages.set(r.time, values);
        sinceMs = Math.max(sinceMs, Date.parse(r.time));
      }
      const lines: Array<{ t: number; text: string }> = [...messages].map(([time, values]) => ({
        t: Date.parse(time),
        text: `${time}  reading      ${values.join('  ')}`,
      }));
      for (const d of deadLetters) {
        if (d.id <= lastDeadLetter) continue;
        const reasons = d.reasons.map((r) => `${r.code}${r.field ? ` (${r.field})` : ''}: ${r.message}`).join('; ');
        const payload = d.payload.length > 60 ? `${d.payload.slice(0, 60)}…` : d.payload;
        lines.push({
          t: Date.parse(d.receivedAt),
          text: `${d.receivedAt}  dead-letter  ${reasons}  payload ${payload}`,
        });
      }
      lastDeadLetter = Math.max(lastDeadLetter, ...deadLetters.map((d) => d.id));
      lines.sort((a, b) => a.t - b.t);
      for (const l of first ? lines.slice(-(o.history ?? 5)) : lines) o.write(l.text);
      first = false;
    } catch (err) {
      // A platform restart or a network hiccup must not end the technician's view; a wrong id or key does.
      if (err instanceof SusError && err.statusCode < 500) throw err;
      o.write(`! ${(err as Error).message} (retrying)`);
    }
    await sleep(pollMs, undefined, { signal: o.signal }).catch(() => undefined); // aborted: the loop ends
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------------

export const DEVICE_HELP = `sus device — field provisioning (talks to the API at SUS_API_URL with SUS_API_KEY)

  sus device add [--id ID] --department D --type T [--name N] [--district X] [--lat L --lon L] [--qr FILE.png]
      register a device; prints its provisioning bundle and a QR code (asks for missing fields in a terminal)
  sus device claim-code --department D --type T [--ttl S]
      a one-time, expiring claim code: the device (or a phone) redeems it at POST /v1/provision/claim
  sus device bundle ID [--qr FILE.png]
      a new bundle for an existing device (rotates its password: older bundles stop working)
  sus device check ID [--interval S]
      live view: connection state, battery, signal, and each message as it arrives (values or dead-letter reason)

  common: --api URL  --key KEY  --mqtt-url URL[,URL]  --ca FILE.pem  --json (bundle only, no QR)`;

async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

async function printBundle(bundle: Bundle, qr: string | undefined, json: boolean): Promise<void> {
  const text = JSON.stringify(bundle);
  process.stdout.write(`${JSON.stringify(bundle, null, 2)}\n`);
  if (qr) {
    await QRCode.toFile(qr, text, { type: 'png', errorCorrectionLevel: 'M' });
    process.stderr.write(`QR code written to ${qr}\n`);
  }
  if (!json) process.stderr.write(`\n${await QRCode.toString(text, { type: 'terminal', small: true })}\n`);
  process.stderr.write('The password in this bundle is shown only now; keep the bundle safe.\n');
}

export async function deviceCommand(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      key: { type: 'string' },
      'mqtt-url': { type: 'string' },
      ca: { type: 'string' },
      qr: { type: 'string' },
      json: { type: 'boolean', default: false },
      id: { type: 'string' },
      name: { type: 'string' },
      department: { type: 'string' },
      type: { type: 'string' },
      district: { type: 'string' },
      lat: { type: 'string' },
      lon: { type: 'string' },
      ttl: { type: 'string' },
      interval: { type: 'string' },
    },
  });
  const api = apiTarget(config, values.api, values.key);
  const ca = values.ca ? readFileSync(values.ca, 'utf8') : null;
  const urls = () => mqttUrlsFor(config, api, values['mqtt-url']);
  const interactive = process.stdin.isTTY === true;
  const need = async (v: string | undefined, label: string) => {
    if (v) return v;
    if (!interactive) throw new SusError('SUS_ERR_USAGE', `--${label} is required`, 400, { field: label });
    const answer = await prompt(`${label}: `);
    if (!answer) throw new SusError('SUS_ERR_USAGE', `${label} is required`, 400, { field: label });
    return answer;
  };
  const num = (v: string | undefined, field: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new SusError('SUS_ERR_USAGE', `--${field} must be a number`, 400, { field });
    return n;
  };
  switch (sub) {
    case 'add': {
      const department = await need(values.department, 'department');
      const type = await need(values.type, 'type');
      const id =
        values.id ?? (interactive ? (await prompt('id (empty: chosen by the platform): ')) || undefined : undefined);
      const bundle = await addDevice(
        api,
        {
          id,
          name: values.name ?? id ?? type,
          department,
          type,
          district: values.district,
          lat: num(values.lat, 'lat'),
          lon: num(values.lon, 'lon'),
        },
        urls(),
        ca,
      );
      await printBundle(bundle, values.qr, values.json ?? false);
      return 0;
    }
    case 'claim-code': {
      const body = {
        department: await need(values.department, 'department'),
        type: await need(values.type, 'type'),
        ...(values.ttl ? { ttlS: num(values.ttl, 'ttl') } : {}),
      };
      const claim = await createClaimCode(api, body);
      process.stdout.write(`${claim.code}\n`);
      process.stderr.write(
        `claim code for a ${claim.type} of ${claim.department}, valid until ${claim.expiresAt}; redeem with POST ${api.url}/v1/provision/claim {"code": "…"}\n`,
      );
      return 0;
    }
    case 'bundle': {
      const id = positionals[0];
      if (!id) throw new SusError('SUS_ERR_USAGE', 'usage: sus device bundle ID [--qr out.png]', 400);
      await printBundle(await rebundleDevice(api, id, urls(), ca), values.qr, values.json ?? false);
      return 0;
    }
    case 'check': {
      const id = positionals[0];
      if (!id) throw new SusError('SUS_ERR_USAGE', 'usage: sus device check ID', 400);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await checkDevice(api, id, {
        pollMs: (num(values.interval, 'interval') ?? 2) * 1000,
        signal: controller.signal,
        write: (line) => process.stdout.write(`${line}\n`),
      });
      return 0;
    }
    default:
      process.stdout.write(`${DEVICE_HELP}\n`);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}
