import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../../services/registry/index.ts';
import { closed, connackCode, type Harness, startBroker, testRegistry } from './harness.ts';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const OPENSSL = hasOpenssl();
if (!OPENSSL) console.warn('tls.test.ts skipped: the openssl command is not installed (apt-get install openssl)');

/** A throw-away PKI: a CA, a server certificate for 127.0.0.1, device certificates signed by the CA or a rogue CA. */
function makePki(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  const leaf = (name: string, cn: string, issuer: string, ext?: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    const extArgs = ext ? ['-extfile', 'ext.cnf'] : [];
    if (ext) writeFileSync(path.join(dir, 'ext.cnf'), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      ...extArgs,
    );
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  leaf('device', 'tls-dev', 'ca');
  leaf('rogue', 'tls-dev', 'rogue-ca');
  leaf('retired', 'tls-retired', 'ca');
  leaf('leaving', 'tls-leaving', 'ca');
  const read = (f: string) => readFileSync(path.join(dir, f));
  return {
    ca: read('ca.crt'),
    server: { cert: read('server.crt'), key: read('server.key') },
    device: { cert: read('device.crt'), key: read('device.key') },
    rogue: { cert: read('rogue.crt'), key: read('rogue.key') },
    retired: { cert: read('retired.crt'), key: read('retired.key') },
    leaving: { cert: read('leaving.crt'), key: read('leaving.key') },
  };
}

describe.skipIf(!OPENSSL)('broker TLS listener and mutual TLS (certificate CN = device id)', () => {
  let registry: Registry;
  let h: Harness;
  let pki: ReturnType<typeof makePki>;
  let dir: string;
  let secret: string;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sus-pki-'));
    pki = makePki(dir);
    registry = await testRegistry();
    h = await startBroker({ tcp: false, tls: { port: 0, ...pki.server, ca: pki.ca } }, {}, registry);
    url = `mqtts://127.0.0.1:${h.broker.tlsPort}`;
    secret = await h.device('tls-pw');
    await h.device('tls-dev');
    await h.device('tls-retired');
    await h.device('tls-leaving');
  });
  afterAll(async () => {
    await h?.stop();
    await registry?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS only when TCP is turned off', () => {
    expect([h.broker.tlsPort !== undefined, h.broker.port]).toStrictEqual([true, 0]);
  });

  it('accepts a device with its password over TLS', async () => {
    expect(await connackCode(url, { ca: pki.ca, username: 'tls-pw', password: secret, clientId: 'tls-pw' })).toBe(
      'connected',
    );
  });

  it('accepts a device by its client certificate alone and lets it publish as itself', async () => {
    const client = await h.connect({ ca: pki.ca, ...pki.device, clientId: 'tls-dev' }, url);
    await client.publishAsync('sus/v1/devices/tls-dev/up', '{"values":{"pm10":7}}', { qos: 1 });
    expect(h.uplinks.map((u) => [u.device, u.payload.toString()])).toStrictEqual([
      ['tls-dev', '{"values":{"pm10":7}}'],
    ]);
  });

  it('refuses a certificate from another CA and a username that differs from the CN with CONNACK 5', async () => {
    expect(await connackCode(url, { ca: pki.ca, ...pki.rogue, clientId: 'tls-dev' })).toBe(5);
    expect(
      await connackCode(url, { ca: pki.ca, ...pki.device, username: 'tls-pw', password: secret, clientId: 'tls-pw' }),
    ).toBe(5);
  });

  it('refuses the still-valid certificate of a decommissioned device with CONNACK 5', async () => {
    expect(await connackCode(url, { ca: pki.ca, ...pki.retired, clientId: 'tls-retired' })).toBe('connected');
    await h.registry.decommissionDevice('tls-retired');
    expect(await connackCode(url, { ca: pki.ca, ...pki.retired, clientId: 'tls-retired' })).toBe(5);
  });

  it('closes the live certificate session of a device when it is decommissioned', async () => {
    const client = await h.connect({ ca: pki.ca, ...pki.leaving, clientId: 'tls-leaving' }, url);
    const gone = closed(client);
    await h.registry.decommissionDevice('tls-leaving');
    await gone;
    expect(client.connected).toBe(false);
  });
});
