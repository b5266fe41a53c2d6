import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { AuthenticateError, Client } from 'aedes';
import type { Logger } from '../common/logger.ts';
import { within } from '../common/within.ts';
import type { ApiKey, Device, DeviceLogin, RegistryEvent } from '../registry/index.ts';
import {
  mayUseClientId,
  SERVICE_CLIENT_PREFIX,
  SERVICE_USERNAME_PREFIX,
  STA_CLIENT_PREFIX,
  STA_USERNAME,
} from './acl.ts';
import { closeWithoutWill } from './client-internals.ts';
import type { AuthFailureReason, BrokerMetrics, BrokerStats } from './metrics.ts';
import {
  type DeviceSession,
  type ReaderSession,
  remoteAddress,
  type ServiceSession,
  type Session,
  type Sessions,
  who,
} from './sessions.ts';
import type { SharedFailureCounts } from './shared-throttle.ts';
import { FailedAttemptThrottle, type ThrottleOptions } from './throttle.ts';

// A login waits at most this long for the cluster's failure counts; then its node's own counts decide.
const SHARED_COUNTS_TIMEOUT_MS = 500;

export interface DeviceAuthenticator {
  /** The device when the secret is its current one, and whether a desired configuration awaits it. */
  loginDevice(id: string, secret: Buffer): Promise<DeviceLogin | undefined>;
  /**
   * Needed for mutual TLS only: the certificate names the device, no secret is presented. Unknown and
   * decommissioned devices are absent.
   */
  getActiveDevice?(id: string): Promise<Device | undefined>;
  /** Needed for service accounts only: username `svc:<name>`, password = a platform-wide API key. */
  keys?: { find(token: string): Promise<ApiKey | undefined> };
}

export interface AuthenticationOptions {
  maxConnections?: number;
  maxClientIdLength?: number;
  throttle?: Partial<ThrottleOptions>;
  /** Longest wait for a credential lookup; a registry that does not answer in time refuses the login with CONNACK 3. */
  registryTimeoutMs?: number;
}

/** The registry's answer time on a login unless SUS_REGISTRY_TIMEOUT_MS says otherwise. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 10_000;

/** Logged-in clients per node unless SUS_MQTT_MAX_CONNECTIONS says otherwise. */
export const DEFAULT_MAX_CONNECTIONS = 50_000;

// MQTT 3.1.1 CONNACK return codes.
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;

class AuthFailure extends Error {
  constructor(
    message: string,
    readonly returnCode: AuthenticateError['returnCode'],
    readonly reason: AuthFailureReason,
  ) {
    super(message);
  }
}

const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  maxFailures: 20,
  addressFreeFailures: 20,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  windowMs: 15 * 60_000,
  maxEntries: 100_000,
};

function hasPeerCert(conn: TLSSocket): boolean {
  const cert = conn.getPeerCertificate();
  return !!cert && Object.keys(cert).length > 0;
}

/**
 * Who may connect: devices by secret or client certificate, service accounts by a platform-wide API key; failed
 * logins throttled per source address. Also ends the live sessions whose credentials stopped working.
 */
export class Authentication {
  private readonly throttle: FailedAttemptThrottle;
  /** The failure window (for the shared counts' expiry). */
  readonly throttleWindowMs: number;
  /** Cluster mode: failure counts shared with the other broker nodes through Redis (set while the broker runs). */
  sharedFailures: SharedFailureCounts | undefined;
  /** Registry changes seen so far: a login whose lookup overlapped one is checked again once it is tracked. */
  private changes = 0;

  constructor(
    private readonly auth: DeviceAuthenticator,
    private readonly sessions: Sessions,
    private readonly options: AuthenticationOptions,
    private readonly counters: {
      stats: BrokerStats;
      metrics: BrokerMetrics;
      /** Clients registered with the broker now (the connection limit). */
      connectedClients: () => number;
    },
    private readonly log: Logger,
  ) {
    this.throttle = new FailedAttemptThrottle({ ...DEFAULT_THROTTLE, ...options.throttle });
    this.throttleWindowMs = options.throttle?.windowMs ?? DEFAULT_THROTTLE.windowMs;
  }

  /** A registry lookup, given up after the bound: a hung registry must not hold a login (or its socket) open. */
  private ask<T>(lookup: Promise<T>): Promise<T> {
    const ms = this.options.registryTimeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
    return within(lookup, ms, () => new Error(`the registry gave no answer within ${ms} ms`));
  }

  /** Aedes' `authenticate` hook: a refusal carries its CONNACK code and is counted by reason. */
  readonly hook = (
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void => {
    this.authenticate(client, username, password).then(
      () => done(null, true),
      (err: Error) => {
        const failure =
          err instanceof AuthFailure
            ? err
            : new AuthFailure(err.message, CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
        this.counters.stats.authFailures++;
        this.counters.metrics.authFailures.inc({ reason: failure.reason });
        done(Object.assign(new Error(failure.message), { returnCode: failure.returnCode }), false);
      },
    );
  };

  private async authenticate(client: Client, username?: string, password?: Buffer): Promise<void> {
    const address = remoteAddress(client);
    const changesBefore = this.changes;
    const max = this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.counters.connectedClients() >= max) {
      throw new AuthFailure('connection limit reached', CONNACK_SERVER_UNAVAILABLE, 'too_many_connections');
    }
    const shared = this.sharedFailures;
    if (shared) {
      // The cluster's counts: the other nodes' failures of this address and username count here too.
      const counts = await within(
        shared.fetch(address, username),
        SHARED_COUNTS_TIMEOUT_MS,
        () => new Error('timeout'),
      ).catch(() => undefined);
      if (counts) this.throttle.learn(address, username, counts);
    }
    if (this.throttle.blocked(address, username)) {
      // Refused without looking at the credentials: a guesser learns nothing, and costs nothing, until the window ends.
      throw new AuthFailure(
        'too many failed logins for this username from this address',
        CONNACK_NOT_AUTHORIZED,
        'throttled',
      );
    }
    const delay = this.throttle.delayMs(address, username);
    if (delay > 0) {
      // CONNACK 3, not 5: a device behind the same NAT as a guesser should try again later, not give up.
      if (!this.throttle.startWaiting(address)) {
        throw new AuthFailure('too many logins waiting from this address', CONNACK_SERVER_UNAVAILABLE, 'throttled');
      }
      try {
        await sleep(delay);
      } finally {
        this.throttle.stopWaiting(address);
      }
    }

    const certificate = client.conn instanceof TLSSocket && hasPeerCert(client.conn);
    const identify =
      username === STA_USERNAME && !certificate
        ? this.identifyReader(address, password)
        : username?.startsWith(SERVICE_USERNAME_PREFIX) && !certificate
          ? this.identifyService(address, username, password)
          : this.identify(client, address, username, password);
    const session = await identify.catch((err: Error) => {
      if (err instanceof AuthFailure && err.reason !== 'registry_unavailable') {
        this.throttle.recordFailure(address, username);
        shared?.record(address, username).then(
          (counts) => this.throttle.learn(address, username, counts),
          (e: Error) => this.log.debug({ err: e.message }, 'failed login not counted in Redis'),
        );
        this.log.info({ device: username, address, reason: err.reason }, 'authentication failed');
      }
      throw err;
    });
    this.checkClientId(client, session);
    this.sessions.add(client, session);
    this.counters.stats.connects++;
    this.counters.metrics.connects.inc();
    // A rotation, decommissioning or revocation during the lookup found no session to end: check this one now.
    if (this.changes !== changesBefore) void this.recheck(client, session);
  }

  private checkClientId(client: Client, session: Session): void {
    const maxId = this.options.maxClientIdLength ?? 128;
    if (session.kind === 'reader') {
      if (client.id.length > maxId || !client.id.startsWith(STA_CLIENT_PREFIX)) {
        throw new AuthFailure(
          `a SensorThings reader's client id must start with '${STA_CLIENT_PREFIX}'`,
          CONNACK_IDENTIFIER_REJECTED,
          'client_id',
        );
      }
    } else if (session.kind === 'service') {
      if (client.id.length > maxId || !client.id.startsWith(SERVICE_CLIENT_PREFIX)) {
        throw new AuthFailure(
          `a service account's client id must start with '${SERVICE_CLIENT_PREFIX}'`,
          CONNACK_IDENTIFIER_REJECTED,
          'client_id',
        );
      }
    } else if (client.id.length > maxId || !mayUseClientId(session.device.id, client.id)) {
      throw new AuthFailure(
        `client id must be '${session.device.id}' or '${session.device.id}:<suffix>' (at most ${maxId} characters)`,
        CONNACK_IDENTIFIER_REJECTED,
        'client_id',
      );
    } else if (!client.clean && client.id !== session.device.id) {
      // A persistent session is stored until its id connects clean again, and queues every downlink of the device:
      // with any suffix allowed one device could store sessions without end. One per device, under its own id.
      throw new AuthFailure(
        `a persistent session (clean: false) must use the client id '${session.device.id}'; '${client.id}' must be clean`,
        CONNACK_IDENTIFIER_REJECTED,
        'client_id',
      );
    }
  }

  /**
   * SensorThings readers: an API key with the read scope (any department: what it may read is decided per
   * subscription by the same grant rule as HTTP), or no password for open data.
   */
  private async identifyReader(address: string, password?: Buffer): Promise<ReaderSession> {
    if (!password || password.length === 0) return { kind: 'reader', department: undefined, address };
    if (!this.auth.keys)
      throw new AuthFailure('this broker takes no API keys', CONNACK_NOT_AUTHORIZED, 'bad_credentials');
    let key: ApiKey | undefined;
    try {
      key = await this.ask(this.auth.keys.find(password.toString('utf8')));
    } catch (err) {
      this.log.error({ err, address }, 'registry unavailable during authentication');
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!key) throw new AuthFailure('unknown or revoked API key', CONNACK_BAD_CREDENTIALS, 'bad_credentials');
    if (!key.scopes.includes('read') && !key.scopes.includes('admin'))
      throw new AuthFailure(
        'a SensorThings reader needs a key with the read scope',
        CONNACK_NOT_AUTHORIZED,
        'bad_credentials',
      );
    return { kind: 'reader', department: key.department, keyId: key.id, token: Buffer.from(password), address };
  }

  /** Service accounts log in with a platform-wide API key; its scopes decide what they may read and send. */
  private async identifyService(address: string, username: string, password?: Buffer): Promise<ServiceSession> {
    if (!password || !this.auth.keys) {
      throw new AuthFailure(
        'service accounts need an API key as password',
        CONNACK_NOT_AUTHORIZED,
        'missing_credentials',
      );
    }
    let key: ApiKey | undefined;
    try {
      key = await this.ask(this.auth.keys.find(password.toString('utf8')));
    } catch (err) {
      this.log.error({ err, username, address }, 'registry unavailable during authentication');
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!key) throw new AuthFailure('unknown or revoked API key', CONNACK_BAD_CREDENTIALS, 'bad_credentials');
    // A department key's account is confined to its department's alerts (acl.ts); the device tree stays with
    // platform-wide keys, since a wildcard there would reach every department's devices.
    const admin = key.scopes.includes('admin');
    return {
      kind: 'service',
      name: username.slice(SERVICE_USERNAME_PREFIX.length) || key.name,
      rights: {
        read: admin || key.scopes.includes('read'),
        write: admin || key.scopes.includes('write'),
        department: key.department,
      },
      keyId: key.id,
      token: Buffer.from(password),
      address,
    };
  }

  private async identify(
    client: Client,
    address: string,
    username?: string,
    password?: Buffer,
  ): Promise<DeviceSession> {
    const conn = client.conn;
    if (conn instanceof TLSSocket && hasPeerCert(conn)) {
      return this.identifyByCertificate(conn, conn.getPeerCertificate().subject?.CN, address, username);
    }
    if (!username || !password) {
      throw new AuthFailure('username and password required', CONNACK_NOT_AUTHORIZED, 'missing_credentials');
    }
    let login: DeviceLogin | undefined;
    try {
      login = await this.ask(this.auth.loginDevice(username, password));
    } catch (err) {
      this.log.error({ err, device: username }, 'registry unavailable during authentication');
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    if (!login) throw new AuthFailure('bad username or password', CONNACK_BAD_CREDENTIALS, 'bad_credentials');
    return {
      kind: 'device',
      device: login.device,
      secret: Buffer.from(password),
      address,
      configPending: login.configPending,
    };
  }

  private async identifyByCertificate(
    conn: TLSSocket,
    cn: string | string[] | undefined,
    address: string,
    username?: string,
  ): Promise<DeviceSession> {
    const id = Array.isArray(cn) ? undefined : cn;
    if (!conn.authorized || !id || !this.auth.getActiveDevice) {
      throw new AuthFailure('client certificate not trusted', CONNACK_NOT_AUTHORIZED, 'certificate');
    }
    if (username && username !== id) {
      throw new AuthFailure('username differs from the certificate CN', CONNACK_NOT_AUTHORIZED, 'certificate');
    }
    let device: Device | undefined;
    try {
      device = await this.ask(this.auth.getActiveDevice(id));
    } catch (err) {
      this.log.error({ err, device: id, address }, 'registry unavailable during authentication');
      throw new AuthFailure('registry unavailable', CONNACK_SERVER_UNAVAILABLE, 'registry_unavailable');
    }
    // A decommissioned device keeps its row (history) and may keep a valid certificate: it is refused all the same.
    if (!device) throw new AuthFailure(`no active device '${id}'`, CONNACK_NOT_AUTHORIZED, 'certificate');
    return { kind: 'device', device, address };
  }

  /** A registry change: the sessions it concerns are checked again and closed if their credentials stopped working. */
  changed(e: RegistryEvent): void {
    if (e.type === 'rules-changed' || e.type === 'grant-changed') return;
    this.changes++;
    if (e.type === 'key-revoked') {
      for (const client of this.sessions.ofKey(e.id)) this.end(client, 'key_revoked');
      return;
    }
    for (const client of this.sessions.ofDevice(e.id)) {
      const session = this.sessions.get(client);
      if (session) void this.recheck(client, session);
    }
  }

  /**
   * Closes the session unless its credentials still work: the device's secret still verifies, its certificate
   * login still names an active device, the service account's key is still valid. A registry that cannot be asked
   * keeps the session (the next change checks again).
   */
  private async recheck(client: Client, session: Session): Promise<void> {
    try {
      if (session.kind === 'service' || session.kind === 'reader') {
        if (session.token && !(await this.auth.keys?.find(session.token.toString('utf8'))))
          this.end(client, 'key_revoked');
        return;
      }
      const id = session.device.id;
      const still = session.secret
        ? await this.auth.loginDevice(id, session.secret)
        : await this.auth.getActiveDevice?.(id);
      if (still) return;
      // Told apart for the metric only: a secret that stopped verifying was rotated unless the device is gone.
      const decommissioned = !session.secret || (this.auth.getActiveDevice && !(await this.auth.getActiveDevice(id)));
      this.end(client, decommissioned ? 'device_decommissioned' : 'credentials_rotated');
    } catch (err) {
      this.log.warn({ ...who(session), err: (err as Error).message }, 'session re-check failed; session kept');
    }
  }

  private end(client: Client, reason: 'credentials_rotated' | 'device_decommissioned' | 'key_revoked'): void {
    const session = this.sessions.get(client);
    this.log.info({ ...who(session), address: session?.address, reason }, 'credentials no longer valid; closing');
    this.counters.metrics.disconnectsForced.inc({ reason });
    // Its will is not published: a device whose credentials were withdrawn sends nothing more, not even that.
    closeWithoutWill(client);
  }
}
