import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { type Harness, startBroker } from './harness.ts';

describe('logins of one client id at the same moment (session takeovers in one batch)', () => {
  let h: Harness;
  let secret: string;

  beforeAll(async () => {
    h = await startBroker();
    secret = await h.device('to-race');
  }, 60_000);
  afterAll(async () => h?.stop());

  /** A login as the device that may be taken over at once: its CONNACK or its refusal, never a throw. */
  const login = (): Promise<MqttClient | undefined> =>
    connectAsync(
      h.url,
      { username: 'to-race', password: secret, clientId: 'to-race', reconnectPeriod: 0, connectTimeout: 5000 },
      false,
    ).catch(() => undefined);

  it('leaves no client counted and the device offline once every connection is closed', async () => {
    const clients: MqttClient[] = [];
    // A holder, then newcomers whose logins share one registry query and pass authentication in the same turn:
    // with Aedes' own takeover both waited on the same holder and one of them stayed counted after it closed.
    const holder = await login();
    if (holder) clients.push(holder);
    for (let round = 0; round < 5; round++) {
      const arrived = await Promise.all(Array.from({ length: 8 }, login));
      for (const c of arrived) if (c) clients.push(c);
    }
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await eventually(
      async () => [h.broker.connectedClients, h.broker.isOnline('to-race')],
      ([n, online]) => n === 0 && online === false,
      10_000,
    );
    expect([h.broker.connectedClients, h.broker.isOnline('to-race')]).toStrictEqual([0, false]);
  }, 60_000);
});
