import { describe, expect, it } from 'vitest';
import { uplinkOf } from '../../../services/ingest/sources/device-tree.ts';
import { subscriptionPlan } from '../../../services/ingest/sources/mqtt-subscriber.ts';

const TOPICS = ['sus/v1/devices/+/up', 'sus/v1/devices/+/up/+'];

describe('subscriptionPlan: shared subscriptions where the broker has them', () => {
  it('subscribes $share/<group>/<topic> when a group is set and the CONNACK does not deny them', () => {
    expect(subscriptionPlan(TOPICS, 'sus-ingest', { properties: {} })).toStrictEqual({
      filters: ['$share/sus-ingest/sus/v1/devices/+/up', '$share/sus-ingest/sus/v1/devices/+/up/+'],
      shared: true,
    });
  });

  it('falls back to plain filters, saying why, when the CONNACK says sharedSubscriptionAvailable: false', () => {
    expect(subscriptionPlan(TOPICS, 'g', { properties: { sharedSubscriptionAvailable: false } })).toStrictEqual({
      filters: TOPICS,
      shared: false,
      fallback: 'the broker says it has no shared subscriptions (CONNACK)',
    });
  });

  it('falls back to plain filters after a SUBACK refused the shared ones', () => {
    expect(subscriptionPlan(TOPICS, 'g', { properties: {} }, true)).toStrictEqual({
      filters: TOPICS,
      shared: false,
      fallback: 'the broker refused the shared subscription (SUBACK)',
    });
  });

  it('subscribes plainly without a group (SUS_INGEST_MQTT_SHARE_GROUP=off)', () => {
    expect(subscriptionPlan(TOPICS, undefined, undefined)).toStrictEqual({ filters: TOPICS, shared: false });
  });
});

describe('uplinkOf: a device-tree message as the Uplink the embedded broker hands to ingest', () => {
  it('takes the device and channel from the topic, with source mqtt', () => {
    const u = uplinkOf({ topic: 'sus/v1/devices/aq-1/up/senml', payload: Buffer.from('[]') });
    expect({ ...u, receivedAt: 0 }).toStrictEqual({
      device: 'aq-1',
      topic: 'sus/v1/devices/aq-1/up/senml',
      channel: 'up/senml',
      payload: Buffer.from('[]'),
      receivedAt: 0,
      source: 'mqtt',
    });
  });

  it('names no device for a topic outside the tree (ingest dead-letters it)', () => {
    expect(uplinkOf({ topic: 'other/x', payload: Buffer.from('{}') }).device).toBe('');
  });
});
