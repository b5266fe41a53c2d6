import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runDecode } from '../../../services/cli/decode.ts';
import { loadConfig } from '../../../services/common/config.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const FIXTURES = path.join(ROOT, 'tests/fixtures/decoders');
const NOW = Date.parse('2025-11-24T16:00:00.000Z');
const config = loadConfig({});

async function decode(args: string[], stdin: string | Buffer) {
  let out = '';
  let err = '';
  const code = await runDecode(args, config, {
    stdin: Readable.from([Buffer.from(stdin)]),
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    now: () => NOW,
  });
  return {
    code,
    out: out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown),
    err,
  };
}

describe('sus decode', () => {
  it('prints one JSON line per normalised reading of a TTN uplink with a profile file, device from the payload', async () => {
    const r = await decode(
      ['--format', 'ttn', '--profile', path.join(ROOT, 'devices/profiles/water_level_radar.json')],
      readFileSync(path.join(FIXTURES, 'ttn.json')),
    );
    expect(r).toStrictEqual({
      code: 0,
      out: [
        { device: 'water-level-7', quantity: 'water_level', value: 1.23, unit: 'm', time: '2025-11-24T15:59:58.000Z' },
        {
          device: 'water-level-7',
          quantity: 'battery_voltage',
          value: 3.61,
          unit: 'V',
          time: '2025-11-24T15:59:58.000Z',
        },
        { device: 'water-level-7', quantity: 'rssi', value: -87, unit: 'dBm', time: '2025-11-24T15:59:58.000Z' },
        { device: 'water-level-7', quantity: 'snr', value: 8.25, unit: 'dB', time: '2025-11-24T15:59:58.000Z' },
      ],
      err: '',
    });
  });

  it('takes the device from --device for canonical JSON and converts units', async () => {
    const r = await decode(
      ['--format', 'canonical', '--device', 'aq-1'],
      '{"time":"2025-11-24T15:59:00Z","values":{"temp":280.55},"units":{"temp":"K"}}',
    );
    expect(r.code).toBe(0);
    expect(r.out).toStrictEqual([
      {
        device: 'aq-1',
        quantity: 'air_temperature',
        value: 7.400000000000034,
        unit: 'Cel',
        time: '2025-11-24T15:59:00.000Z',
      },
    ]);
  });

  it('prints the good readings, the reason codes on stderr and exits 2 for a partly rejected payload', async () => {
    const r = await decode(['--format', 'canonical', '--device', 'aq-1'], '{"values":{"co2":400,"foo":1,"pm10":"x"}}');
    expect(r).toStrictEqual({
      code: 2,
      out: [{ device: 'aq-1', quantity: 'co2', value: 400, unit: 'ppm', time: '2025-11-24T16:00:00.000Z' }],
      err:
        "INGEST_UNKNOWN_QUANTITY values.foo: 'foo' is not a quantity of the catalogue\n" +
        'INGEST_NOT_A_NUMBER values.pm10: expected a number, got string\n',
    });
  });

  it('exits 2 with INGEST_MALFORMED_JSON for a payload that is not JSON', async () => {
    const r = await decode(['--format', 'senml'], '[{"n":');
    expect(r.code).toBe(2);
    expect(r.out).toStrictEqual([]);
    expect(r.err).toMatch(/^INGEST_MALFORMED_JSON: payload is not JSON: /);
  });

  it('exits 1 with the usage for an unknown format', async () => {
    const r = await decode(['--format', 'xml'], '');
    expect(r.code).toBe(1);
    expect(r.err).toContain('--format must be one of canonical, senml, senml-cbor, ttn, chirpstack, sensor-community');
  });

  it('works as the real command: reads stdin, writes stdout, exits 2 on rejection', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/sus.mjs'), 'decode', '--format', 'sensor-community'], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdin.end(
      '{"esp8266id":"42","sensordatavalues":[{"value_type":"SDS_P2","value":"8.70"},{"value_type":"SDS_P1","value":"n/a"}]}',
    );
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map(({ time: _t, ...rest }) => rest)).toStrictEqual([
      { device: 'esp8266-42', quantity: 'pm2_5', value: 8.7, unit: 'ug/m3' },
    ]);
    expect(err).toBe('INGEST_NOT_A_NUMBER sensordatavalues.1.value: expected a number, got string\n');
  });
});
