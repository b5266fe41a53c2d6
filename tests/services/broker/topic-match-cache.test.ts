import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/env.ts';
import { type Harness, startBroker } from './harness.ts';

/**
 * The broker remembers topic matches (services/broker/topic-match-cache.ts): these prove that a subscription made or
 * dropped after a topic was matched takes effect at once, for live subscribers and for offline persistent sessions.
 */
describe('broker topic matches: subscriptions take effect on topics matched before', () => {
  let h: Harness;
  let device: MqttClient;
  let key: string;
  const topic = 'sus/v1/devices/oq-1/up';

  /** A service account with a persistent session (clean: false), as an integration that must not miss readings. */
  const app = () =>
    h.connect({ username: 'svc:archive', password: key, clientId: '@svc/archive', clean: false, resubscribe: false });

  beforeAll(async () => {
    h = await startBroker();
    const secret = await h.device('oq-1');
    key = (await h.registry.keys.create({ name: 'archive', department: null, scopes: ['read'] })).key;
    device = await h.connect({ username: 'oq-1', password: secret, clientId: 'oq-1' });
  });
  afterAll(async () => h?.stop());

  it('queues what a device publishes while the subscriber is away, though the topic had no subscriber before', async () => {
    // The topic is matched (no persistent subscriber yet) before anyone subscribes: a remembered empty match must
    // not survive the subscription.
    await device.publishAsync(topic, '{"values":{"pm10":1}}', { qos: 1 });
    const first = await app();
    await first.subscribeAsync('sus/v1/devices/+/up', { qos: 1 });
    await first.endAsync();

    await device.publishAsync(topic, '{"values":{"pm10":2}}', { qos: 1 });
    await device.publishAsync(topic, '{"values":{"pm10":3}}', { qos: 1 });

    const received: string[] = [];
    const back = await app();
    back.on('message', (_t, payload) => received.push(payload.toString()));
    await eventually(
      async () => received,
      (r) => r.length >= 2,
    );
    expect(received).toStrictEqual(['{"values":{"pm10":2}}', '{"values":{"pm10":3}}']);

    // Unsubscribed: what comes next is not queued for the session any more.
    await back.unsubscribeAsync('sus/v1/devices/+/up');
    await back.endAsync();
    await device.publishAsync(topic, '{"values":{"pm10":4}}', { qos: 1 });
    const late: string[] = [];
    const again = await app();
    again.on('message', (_t, payload) => late.push(payload.toString()));
    // A marker published after reconnecting arrives through a live subscription; anything queued would come first.
    await again.subscribeAsync('sus/v1/devices/oq-1/up', { qos: 1 });
    await device.publishAsync(topic, '{"values":{"pm10":5}}', { qos: 1 });
    await eventually(
      async () => late,
      (r) => r.includes('{"values":{"pm10":5}}'),
    );
    expect(late).toStrictEqual(['{"values":{"pm10":5}}']);
    await again.endAsync();
  });

  it('delivers to a live subscriber that subscribed after the topic was matched, and stops after it unsubscribes', async () => {
    const liveTopic = 'sus/v1/devices/oq-1/up/senml';
    await device.publishAsync(liveTopic, '[{"n":"pm10","v":1}]', { qos: 1 });
    const got: string[] = [];
    const watcher = await h.connect({ username: 'svc:watch', password: key, clientId: '@svc/watch' });
    watcher.on('message', (_t, payload) => got.push(payload.toString()));
    await watcher.subscribeAsync(liveTopic, { qos: 1 });
    await device.publishAsync(liveTopic, '[{"n":"pm10","v":2}]', { qos: 1 });
    await eventually(
      async () => got,
      (g) => g.length >= 1,
    );

    await watcher.unsubscribeAsync(liveTopic);
    const marks: string[] = [];
    const marker = await h.connect({ username: 'svc:mark', password: key, clientId: '@svc/mark' });
    marker.on('message', (_t, payload) => marks.push(payload.toString()));
    await marker.subscribeAsync(liveTopic, { qos: 1 });
    await device.publishAsync(liveTopic, '[{"n":"pm10","v":3}]', { qos: 1 });
    // Both would receive it at the same time: once the marker has it, the watcher would have had it too.
    await eventually(
      async () => marks,
      (m) => m.length >= 1,
    );
    expect({ got, marks }).toStrictEqual({ got: ['[{"n":"pm10","v":2}]'], marks: ['[{"n":"pm10","v":3}]'] });
  });
});
