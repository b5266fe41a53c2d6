import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/env.ts';
import { type RiverScene, startRiverScene } from '../../../helpers/river-alert.ts';
import { startReceiver } from '../../../helpers/webhook-receiver.ts';

const SECRET = 'receiver-secret-0123456789';

describe('webhook SSRF guard: a name that resolves to loopback is refused when the socket connects', () => {
  let scene: RiverScene<Awaited<ReturnType<typeof startReceiver>>>;
  beforeAll(async () => {
    // No SUS_WEBHOOK_ALLOW_NETWORKS: the default refuses loopback, private and link-local addresses.
    scene = await startRiverScene(await startReceiver(), () => ({ SUS_WEBHOOK_MAX_ATTEMPTS: '1' }));
  });
  afterAll(async () => {
    await scene?.close();
  });

  it('passes the rule (a name is not an address) but never reaches the receiver; the delivery is a dead letter', async () => {
    const { api, receiver } = scene;
    const port = new URL(receiver.url).port;
    const created = await scene.river([{ type: 'webhook', url: `http://localhost:${port}/hook`, secret: SECRET }]);
    expect(created.status).toBe(201);
    await scene.publish(1.7);
    const [alert] = await eventually(
      async () => (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-high')).body.alerts,
      (a) => a.length === 1,
    );
    const deliveries = await eventually(
      async () =>
        (
          await api<{ deliveries: Array<{ state: string; attempts: number; lastError: string }> }>(
            'GET',
            `/v1/alerts/${alert!.id}/deliveries`,
          )
        ).body.deliveries,
      (d) => d[0]?.state === 'dead',
    );
    expect(
      deliveries.map((d) => [d.state, d.attempts, d.lastError.replace(/resolves to .*: /, 'resolves to …: ')]),
    ).toStrictEqual([
      [
        'dead',
        1,
        'SUS_ERR_WEBHOOK_ADDRESS: localhost resolves to …: loopback, private, link-local or reserved (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
      ],
    ]);
    expect(receiver.received).toStrictEqual([]);
  });
});
