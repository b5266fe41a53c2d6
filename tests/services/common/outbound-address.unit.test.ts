import { describe, expect, it } from 'vitest';
import { OutboundPolicy, parseNetworks } from '../../../services/common/outbound-address.ts';

const lookup = (policy: OutboundPolicy, host: string, all: boolean) =>
  new Promise<{ code: string | undefined; result: unknown }>((resolve) =>
    policy.lookup(host, { all, family: 4 }, (err, address) =>
      resolve({ code: err?.code, result: err ? err.message : address }),
    ),
  );

describe('outbound address policy (webhook SSRF guard)', () => {
  it('refuses loopback, private, link-local, metadata, CGNAT and mapped addresses, permits public ones', () => {
    const p = new OutboundPolicy();
    const refused = [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
    ];
    expect(refused.filter((a) => p.permits(a))).toStrictEqual([]);
    expect(['93.184.216.34', '2606:2800:220:1::1', '8.8.8.8'].map((a) => p.permits(a))).toStrictEqual([
      true,
      true,
      true,
    ]);
  });

  it('permits exactly the networks SUS_WEBHOOK_ALLOW_NETWORKS names', () => {
    const p = new OutboundPolicy('127.0.0.1, 10.0.0.0/8');
    expect(['127.0.0.1', '127.0.0.2', '10.9.9.9', '192.168.1.1'].map((a) => p.permits(a))).toStrictEqual([
      true,
      false,
      true,
      false,
    ]);
    expect(() => parseNetworks('10.0.0.0/33')).toThrow("'10.0.0.0/33' is not an IP address or CIDR network");
    expect(() => parseNetworks('intranet')).toThrow("'intranet' is not an IP address or CIDR network");
  });

  it('refuses an address literal in the URL before connecting, a name only once it resolved', () => {
    const p = new OutboundPolicy();
    expect(p.refusalOf(new URL('http://[::1]:8080/x'))).toBe(
      '::1 is a loopback, private, link-local or reserved address (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
    );
    expect(p.refusalOf(new URL('http://localhost:8080/x'))).toBe(undefined);
  });

  it('checks the address the socket connects to: a name resolving to loopback is refused at connect time', async () => {
    expect(await lookup(new OutboundPolicy(), 'localhost', false)).toStrictEqual({
      code: 'SUS_ERR_WEBHOOK_ADDRESS',
      result:
        'localhost resolves to 127.0.0.1: loopback, private, link-local or reserved (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
    });
    expect(await lookup(new OutboundPolicy('127.0.0.1'), 'localhost', false)).toStrictEqual({
      code: undefined,
      result: '127.0.0.1',
    });
    expect(await lookup(new OutboundPolicy('127.0.0.1'), 'localhost', true)).toStrictEqual({
      code: undefined,
      result: [{ address: '127.0.0.1', family: 4 }],
    });
  });
});
