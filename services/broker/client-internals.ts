import type { Client } from 'aedes';

/** A will as Aedes keeps it (mqtt-packet's CONNECT will). */
export interface Will {
  topic: string;
  payload: Buffer | string;
  retain?: boolean;
}

/** Fields of an Aedes 1.2 client that its typings leave out (aedes is pinned exactly for this). */
interface ClientInternals {
  /** The CONNECT's will, from the CONNECT until the session is set up (then stored and moved to `will`). */
  _will?: Will | null;
  /** Set by a DISCONNECT packet: the close that follows neither publishes the will nor keeps it stored. */
  _disconnected?: boolean;
}

const internals = (client: Client) => client as unknown as ClientInternals;

/** The will of a login in progress (during `authenticate`), before Aedes stores it. */
export function pendingWill(client: Client): Will | undefined {
  return internals(client)._will ?? undefined;
}

export function dropPendingWill(client: Client): void {
  internals(client)._will = null;
}

/**
 * Closes the connection as a DISCONNECT would: its will is neither published nor left in the store (where, in
 * cluster mode, another node would publish it once this one is gone). For sessions whose credentials were withdrawn.
 */
export function closeWithoutWill(client: Client): void {
  internals(client)._disconnected = true;
  client.close();
}
