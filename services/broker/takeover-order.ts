import type { Client } from 'aedes';

/**
 * Lets the logins of one client id into Aedes one at a time. Aedes 1.2 registers a client whose id is taken by
 * closing the holder and registering the newcomer in the close's callback; two logins of one id that pass
 * authentication in the same turn (logins share registry queries, so a batch answers them together) both wait on the
 * same holder, whose unregistration then deletes the first newcomer's entry: Aedes' client count stays one too high
 * for good (the connection limit counts it) and that newcomer's disconnect is never emitted (its device stays
 * online). So the next login of an id waits until the previous one is ready (Aedes' `clientReady`, after its
 * CONNACK: a takeover before it would see its disconnect before its ready, and presence would keep it online) or its
 * connection closed. At most one entry per client id with a login in progress.
 */
export class TakeoverOrder {
  /** Per client id: settles once the newest login of that id is ready or gone. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly releases = new WeakMap<Client, () => void>();

  /** Aedes' `clientReady` event: the client is registered and has its CONNACK. */
  readonly ready = (client: Client): void => {
    this.releases.get(client)?.();
  };

  /** Calls `proceed` (Aedes' authenticate callback) once no earlier login of the same id is in between. */
  admit(client: Client, proceed: () => void): void {
    const id = client.id;
    const previous = this.tails.get(id);
    let settle: () => void = () => {};
    const mine = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.tails.set(id, mine);
    const release = () => {
      this.releases.delete(client);
      client.conn.off('close', release);
      settle();
      if (this.tails.get(id) === mine) this.tails.delete(id);
    };
    this.releases.set(client, release);
    client.conn.once('close', release);
    if (previous) void previous.then(proceed);
    else proceed();
  }
}
