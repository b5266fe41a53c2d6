import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where the platform may connect on a client's behalf (webhook URLs): never to itself, the host's private networks
 * or a cloud metadata service (SSRF), unless the operator allows a network (SUS_WEBHOOK_ALLOW_NETWORKS). The check
 * runs on the address a connection is about to use (the `lookup` below), so a name that resolved to a public
 * address when the rule was made and to 127.0.0.1 later (DNS rebinding) is refused at connect time.
 */

/** Loopback, private, link-local (cloud metadata at 169.254.169.254, fd00:ec2::254), CGNAT, multicast, reserved. */
const DENIED: ReadonlyArray<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const family = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** `10.0.0.0/8`, `127.0.0.1`, `fd00::/8`: the networks an allow list names; throws on anything else. */
export function parseNetworks(list: string): Array<{ address: string; prefix: number; family: 'ipv4' | 'ipv6' }> {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const [address = '', bits] = s.split('/');
      const v = isIP(address);
      const max = v === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : Number(bits);
      if (v === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
        throw new Error(`'${s}' is not an IP address or CIDR network`);
      return { address, prefix, family: v === 6 ? 'ipv6' : 'ipv4' };
    });
}

export class OutboundPolicy {
  private readonly denied = new BlockList();
  private readonly allowed = new BlockList();

  /** `allow`: networks reachable although they are in a denied range (SUS_WEBHOOK_ALLOW_NETWORKS). */
  constructor(allow = '') {
    for (const [address, prefix, f] of DENIED) this.denied.addSubnet(address, prefix, f);
    for (const n of parseNetworks(allow)) this.allowed.addSubnet(n.address, n.prefix, n.family);
  }

  /** An address may be connected to (BlockList also matches IPv4-mapped IPv6 addresses against IPv4 ranges). */
  permits(address: string): boolean {
    const f = family(address);
    return this.allowed.check(address, f) || !this.denied.check(address, f);
  }

  /** Why a URL's host cannot be reached, when it is an address literal (a name is checked at connect time). */
  refusalOf(url: URL): string | undefined {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) === 0 || this.permits(host)) return undefined;
    return `${host} is a loopback, private, link-local or reserved address (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)`;
  }

  /**
   * A `lookup` for http(s).request that resolves as usual and refuses denied addresses (code SUS_ERR_WEBHOOK_ADDRESS):
   * the address checked is the one the socket connects to, so no second resolution can swap it.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const usable = addresses.filter((a) => this.permits(a.address));
      if (usable.length === 0) {
        const e: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}: loopback, private, link-local or reserved (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)`,
        );
        e.code = 'SUS_ERR_WEBHOOK_ADDRESS';
        return callback(e, '');
      }
      if (options.all) return callback(null, usable);
      const [first] = usable;
      callback(null, first!.address, first!.family);
    });
  };
}
