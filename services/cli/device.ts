/**
 * `sus device …`: field provisioning for technicians, against a running platform's API (so it works from a laptop
 * on site, and never opens the platform's registry beside it).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import QRCode from 'qrcode';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import type { Bundle } from '../common/provisioning.ts';
import { apiTarget } from './api-client.ts';
import { checkDevice } from './device-check.ts';
import { addDevice, createClaimCode, mqttUrlsFor, rebundleDevice } from './provisioning.ts';
import { API_CLIENT_OPTIONS, subcommandArgs } from './subcommand-args.ts';

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
  const { sub, values, positionals } = subcommandArgs(
    args,
    {
      ...API_CLIENT_OPTIONS,
      'mqtt-url': { type: 'string' },
      ca: { type: 'string' },
      qr: { type: 'string' },
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
    DEVICE_HELP,
  );
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
