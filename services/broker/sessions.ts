import type net from 'node:net';
import type { Client } from 'aedes';
import type { Device } from '../registry/types.ts';
import type { ServiceRights } from './acl.ts';

/** One authenticated device connection. */
export interface DeviceSession {
  kind: 'device';
  device: Device;
  /** Kept to re-check the session when the device's secret is rotated; absent for certificate logins. */
  secret?: Buffer;
  address: string;
}

/** A platform component or integration (its own ACL: watch the device tree, send downlinks). */
export interface ServiceSession {
  kind: 'service';
  name: string;
  rights: ServiceRights;
  address: string;
}

export type Session = DeviceSession | ServiceSession;

/** Log context naming who a session is. */
export function who(session: Session | undefined): Record<string, string | undefined> {
  if (!session) return {};
  return session.kind === 'device' ? { device: session.device.id } : { service: session.name };
}

export function remoteAddress(client: Client): string {
  const conn = client.conn as Partial<net.Socket>;
  return client.req?.socket.remoteAddress ?? conn.remoteAddress ?? 'unknown';
}

/** Who each connection is, and every authenticated connection of each device until its socket closes. */
export class Sessions {
  // Per connection; a WeakMap so a client that never reached clientDisconnect needs no cleanup.
  private readonly byClient = new WeakMap<Client, Session>();
  /**
   * Every authenticated connection per device until its socket closes, including those between CONNACK and
   * `clientReady`: a rotation in that window must still end them.
   */
  private readonly byDevice = new Map<string, Set<Client>>();

  get(client: Client): Session | undefined {
    return this.byClient.get(client);
  }

  add(client: Client, session: Session): void {
    this.byClient.set(client, session);
    if (session.kind !== 'device') return;
    const device = session.device.id;
    const set = this.byDevice.get(device) ?? new Set<Client>();
    this.byDevice.set(device, set);
    set.add(client);
    client.conn.once('close', () => {
      set.delete(client);
      if (set.size === 0 && this.byDevice.get(device) === set) this.byDevice.delete(device);
    });
  }

  /** The device's authenticated connections (a copy: closing them changes the set). */
  ofDevice(device: string): Client[] {
    return [...(this.byDevice.get(device) ?? [])];
  }
}
