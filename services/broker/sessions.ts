import type net from 'node:net';
import type { Client } from 'aedes';
import type { Device } from '../registry/index.ts';
import type { ServiceRights } from './acl.ts';
import { Multimap } from './multimap.ts';

/** One authenticated device connection. */
export interface DeviceSession {
  kind: 'device';
  device: Device;
  /** Kept to re-check the session when the device's secret is rotated; absent for certificate logins. */
  secret?: Buffer;
  address: string;
  /** A desired configuration awaited the device at login; absent: not known (certificate logins), so it is asked. */
  configPending?: boolean;
}

/** A platform component or integration (its own ACL: watch the device tree, send downlinks). */
export interface ServiceSession {
  kind: 'service';
  name: string;
  rights: ServiceRights;
  /** The API key it logged in with: revoking the key ends the session. */
  keyId: string;
  /** Kept to re-check the key when a revocation may have raced the login. */
  token: Buffer;
  address: string;
}

/** A SensorThings MQTT reader: receives what its key (or, without one, open data) may read; publishes nothing. */
export interface ReaderSession {
  kind: 'reader';
  /** The key's department; null: a platform-wide key; undefined: anonymous (public grants only). */
  department: string | null | undefined;
  keyId?: string;
  token?: Buffer;
  address: string;
}

export type Session = DeviceSession | ServiceSession | ReaderSession;

/** Log context naming who a session is. */
export function who(session: Session | undefined): Record<string, string | undefined> {
  if (!session) return {};
  if (session.kind === 'reader') return { reader: session.department ?? (session.keyId ? 'platform' : 'anonymous') };
  return session.kind === 'device' ? { device: session.device.id } : { service: session.name };
}

export function remoteAddress(client: Client): string {
  const conn = client.conn as Partial<net.Socket>;
  return client.req?.socket.remoteAddress ?? conn.remoteAddress ?? 'unknown';
}

/** Connections per owner (a device, an API key) until each socket closes. */
class ConnectionIndex {
  private readonly byOwner = new Multimap<string, Client>();

  add(owner: string, client: Client): void {
    this.byOwner.add(owner, client);
    client.conn.once('close', () => this.byOwner.delete(owner, client));
  }

  of(owner: string): Client[] {
    return this.byOwner.values(owner);
  }
}

/** Who each connection is, and every authenticated connection of each device and API key until its socket closes. */
export class Sessions {
  // Per connection; a WeakMap so a client that never reached clientDisconnect needs no cleanup.
  private readonly byClient = new WeakMap<Client, Session>();
  /**
   * Every authenticated connection per device and per service-account key until its socket closes, including
   * those between CONNACK and `clientReady`: a rotation or revocation in that window must still end them.
   */
  private readonly byDevice = new ConnectionIndex();
  private readonly byKey = new ConnectionIndex();

  get(client: Client): Session | undefined {
    return this.byClient.get(client);
  }

  add(client: Client, session: Session): void {
    this.byClient.set(client, session);
    if (session.kind === 'device') this.byDevice.add(session.device.id, client);
    else if (session.keyId) this.byKey.add(session.keyId, client);
  }

  ofDevice(device: string): Client[] {
    return this.byDevice.of(device);
  }

  ofKey(keyId: string): Client[] {
    return this.byKey.of(keyId);
  }
}
