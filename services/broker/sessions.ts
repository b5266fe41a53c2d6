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

/** Who each connection is, and every authenticated connection of each device and API key until its socket closes. */
export class Sessions {
  // Per connection; a WeakMap so a client that never reached clientDisconnect needs no cleanup.
  private readonly byClient = new WeakMap<Client, Session>();
  /**
   * Every authenticated connection per device and per service-account key until its socket closes, including
   * those between CONNACK and `clientReady`: a rotation or revocation in that window must still end them.
   */
  private readonly byDevice = new Multimap<string, Client>();
  private readonly byKey = new Multimap<string, Client>();
  /**
   * One close listener for every socket: Aedes keeps its client on the socket (`conn.client`), where the listener
   * finds it. A closure and a once-wrapper per connection were ~200 B each, 10,000 times over in a storm.
   */
  private readonly onClose: (this: { client?: Client }) => void;

  constructor() {
    const sessions = this;
    this.onClose = function (this: { client?: Client }) {
      if (this.client) sessions.closed(this.client);
    };
  }

  get(client: Client): Session | undefined {
    return this.byClient.get(client);
  }

  add(client: Client, session: Session): void {
    this.byClient.set(client, session);
    const owner = session.kind === 'device' ? session.device.id : session.keyId;
    if (owner === undefined) return;
    (session.kind === 'device' ? this.byDevice : this.byKey).add(owner, client);
    if ((client.conn as { client?: unknown }).client === client) client.conn.on('close', this.onClose);
    else client.conn.once('close', () => this.closed(client));
  }

  ofDevice(device: string): Client[] {
    return this.byDevice.values(device);
  }

  ofKey(keyId: string): Client[] {
    return this.byKey.values(keyId);
  }

  private closed(client: Client): void {
    const session = this.byClient.get(client);
    if (session?.kind === 'device') this.byDevice.delete(session.device.id, client);
    else if (session?.keyId) this.byKey.delete(session.keyId, client);
  }

  /** Devices and keys with a connection held (tests: nothing stays behind a closed socket). */
  get owners(): number {
    return this.byDevice.size + this.byKey.size;
  }
}
