import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { type Harness, startBroker } from './harness.ts';

/**
 * A device that was offline when its desired configuration changed gets it when it connects. Whether one awaits it
 * comes with the login's credentials query, so the devices of a reconnect storm that have none cost no second query.
 */
describe('broker: desired configuration on connect', () => {
  let h: Harness;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    h = await startBroker();
    for (const id of ['dc-none', 'dc-set']) secrets[id] = await h.device(id);
  });
  afterAll(async () => h?.stop());

  it('sends a pending configuration on connect and asks the registry for it only for the device that has one', async () => {
    const desired = await h.registry.downlinks.setDesiredConfig('dc-set', { interval_s: 60 });
    const asked = vi.spyOn(h.registry.downlinks, 'getDesiredConfig');
    try {
      const none = await h.connect({ username: 'dc-none', password: secrets['dc-none'], clientId: 'dc-none' });
      const set = await h.connect({ username: 'dc-set', password: secrets['dc-set'], clientId: 'dc-set' });
      const got: Array<{ device: string; topic: string; payload: unknown }> = [];
      for (const [device, client] of [
        ['dc-none', none],
        ['dc-set', set],
      ] as const) {
        client.on('message', (topic, payload) => got.push({ device, topic, payload: JSON.parse(payload.toString()) }));
        await client.subscribeAsync(`sus/v1/devices/${device}/down/config`, { qos: 1 });
      }
      await eventually(
        async () => got,
        (g) => g.length >= 1,
      );
      expect(got).toStrictEqual([
        {
          device: 'dc-set',
          topic: 'sus/v1/devices/dc-set/down/config',
          payload: { version: 1, config: { interval_s: 60 }, time: Date.parse(desired.updatedAt) },
        },
      ]);
      expect(asked.mock.calls).toStrictEqual([['dc-set']]);
    } finally {
      asked.mockRestore();
    }
  });
});
