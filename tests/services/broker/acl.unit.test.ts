import { describe, expect, it } from 'vitest';
import {
  mayPublish,
  maySubscribe,
  mayUseClientId,
  serviceMayPublish,
  serviceMaySubscribe,
} from '../../../services/broker/acl.ts';

const allowed = (check: (device: string, s: string) => boolean, device: string, list: string[]) =>
  list.filter((s) => check(device, s));

describe('mayPublish', () => {
  it('allows a device to publish readings on its own up and up/<format> topics', () => {
    const topics = ['sus/v1/devices/aq-1/up', 'sus/v1/devices/aq-1/up/senml', 'sus/v1/devices/aq-1/up/cbor'];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual(topics);
  });

  it('allows a device to acknowledge downlinks on its own ack topics', () => {
    const topics = ['sus/v1/devices/aq-1/ack', 'sus/v1/devices/aq-1/ack/config'];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual(topics);
  });

  it("denies publishing on another device's up topic", () => {
    expect(mayPublish('aq-1', 'sus/v1/devices/aq-2/up')).toStrictEqual(false);
  });

  it('denies publishing on its own status and down topics', () => {
    const topics = [
      'sus/v1/devices/aq-1/status',
      'sus/v1/devices/aq-1/down',
      'sus/v1/devices/aq-1/down/config',
      'sus/v1/devices/aq-1/down/reboot',
    ];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual([]);
  });

  it('denies topics containing the wildcards + or #', () => {
    const topics = [
      'sus/v1/devices/aq-1/up/+',
      'sus/v1/devices/aq-1/up/#',
      'sus/v1/devices/+/up',
      'sus/v1/devices/#',
      '#',
      '+',
    ];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual([]);
  });

  it('denies $SYS topics', () => {
    expect(allowed(mayPublish, 'aq-1', ['$SYS/broker/uptime', '$SYS/aq-1/up'])).toStrictEqual([]);
  });

  it('denies topics outside sus/v1/devices/', () => {
    const topics = [
      'sus/v2/devices/aq-1/up',
      'sus/v1/device/aq-1/up',
      'sus/v1/devices',
      'sus/v1/devices/',
      'sus/v1/devices/aq-1',
      '/sus/v1/devices/aq-1/up',
      'aq-1/up',
      'up',
      '',
    ];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual([]);
  });

  it('denies channels that merely start with up or ack', () => {
    const topics = ['sus/v1/devices/aq-1/upload', 'sus/v1/devices/aq-1/acknowledge', 'sus/v1/devices/aq-1/'];
    expect(allowed(mayPublish, 'aq-1', topics)).toStrictEqual([]);
  });

  it('denies the prefix trick: device a publishing under device ab', () => {
    expect(mayPublish('a', 'sus/v1/devices/ab/up')).toStrictEqual(false);
    expect(mayPublish('ab', 'sus/v1/devices/a/up')).toStrictEqual(false);
  });
});

describe('maySubscribe', () => {
  it('allows a device to subscribe to its own downlink tree', () => {
    const filters = [
      'sus/v1/devices/aq-1/down/#',
      'sus/v1/devices/aq-1/down',
      'sus/v1/devices/aq-1/down/config',
      'sus/v1/devices/aq-1/down/+',
    ];
    expect(allowed(maySubscribe, 'aq-1', filters)).toStrictEqual(filters);
  });

  it("denies another device's downlinks", () => {
    const filters = ['sus/v1/devices/aq-2/down/#', 'sus/v1/devices/aq-2/down/config'];
    expect(allowed(maySubscribe, 'aq-1', filters)).toStrictEqual([]);
  });

  it('denies wildcard filters spanning devices', () => {
    const filters = ['sus/v1/devices/+/down/#', 'sus/v1/devices/#', '#', '+/+/+/+/down/#', '$SYS/#'];
    expect(allowed(maySubscribe, 'aq-1', filters)).toStrictEqual([]);
  });

  it('denies its own up, status and ack topics', () => {
    const filters = [
      'sus/v1/devices/aq-1/up',
      'sus/v1/devices/aq-1/status',
      'sus/v1/devices/aq-1/ack',
      'sus/v1/devices/aq-1/#',
    ];
    expect(allowed(maySubscribe, 'aq-1', filters)).toStrictEqual([]);
  });

  it('denies the prefix tricks: device a under device ab, and down-prefixed channels', () => {
    expect(maySubscribe('a', 'sus/v1/devices/ab/down/#')).toStrictEqual(false);
    expect(maySubscribe('aq-1', 'sus/v1/devices/aq-1/downlink')).toStrictEqual(false);
  });
});

describe('mayUseClientId', () => {
  it('allows the exact device id and id:suffix', () => {
    expect(allowed(mayUseClientId, 'aq-1', ['aq-1', 'aq-1:sensor', 'aq-1:'])).toStrictEqual([
      'aq-1',
      'aq-1:sensor',
      'aq-1:',
    ]);
  });

  it("denies another device's id, id-x and prefixes of the id", () => {
    const ids = ['aq-2', 'aq-1-x', 'aq-1x', 'aq-', 'aq', 'x:aq-1', '', 'AQ-1'];
    expect(allowed(mayUseClientId, 'aq-1', ids)).toStrictEqual([]);
  });

  it('denies a device the id:suffix of a device whose id it prefixes', () => {
    expect(mayUseClientId('a', 'ab:1')).toStrictEqual(false);
  });
});

describe('service accounts', () => {
  const readOnly = { read: true, write: false, department: null };
  const writer = { read: false, write: true, department: null };
  const environment = { read: true, write: true, department: 'environment' };

  it('lets a write service publish downlinks to any device and nothing else', () => {
    const topics = [
      'sus/v1/devices/aq-1/down/command',
      'sus/v1/devices/aq-2/down/config',
      'sus/v1/devices/aq-1/down',
      'sus/v1/devices/aq-1/down/',
      'sus/v1/devices/aq-1/up',
      'sus/v1/devices/aq-1/status',
      'sus/v1/devices/+/down/command',
      '$SYS/x',
    ];
    expect(allowed((_d, t) => serviceMayPublish(writer, t), '', topics)).toStrictEqual([
      'sus/v1/devices/aq-1/down/command',
      'sus/v1/devices/aq-2/down/config',
    ]);
    expect(serviceMayPublish(readOnly, 'sus/v1/devices/aq-1/down/command')).toStrictEqual(false);
  });

  it('lets a read service watch the device tree with wildcards but not $SYS or other trees', () => {
    const filters = ['sus/v1/devices/+/status', 'sus/v1/devices/#', '#', '$SYS/#', 'other/topic'];
    expect(allowed((_d, f) => serviceMaySubscribe(readOnly, f), '', filters)).toStrictEqual([
      'sus/v1/devices/+/status',
      'sus/v1/devices/#',
    ]);
    expect(serviceMaySubscribe(writer, 'sus/v1/devices/#')).toStrictEqual(false);
  });

  it("lets a department's account subscribe to its own alerts only, and publish nothing", () => {
    const filters = [
      'sus/v1/alerts/environment/#',
      'sus/v1/alerts/environment/river-high/+',
      'sus/v1/alerts/environmental/#',
      'sus/v1/alerts/+/#',
      'sus/v1/alerts/#',
      'sus/v1/alerts/traffic/#',
      'sus/v1/devices/#',
      '#',
    ];
    expect(allowed((_d, f) => serviceMaySubscribe(environment, f), '', filters)).toStrictEqual([
      'sus/v1/alerts/environment/#',
      'sus/v1/alerts/environment/river-high/+',
    ]);
    expect(allowed((_d, f) => serviceMaySubscribe(readOnly, f), '', filters)).toStrictEqual([
      'sus/v1/alerts/environment/#',
      'sus/v1/alerts/environment/river-high/+',
      'sus/v1/alerts/environmental/#',
      'sus/v1/alerts/+/#',
      'sus/v1/alerts/#',
      'sus/v1/alerts/traffic/#',
      'sus/v1/devices/#',
    ]);
    expect(serviceMayPublish(environment, 'sus/v1/devices/aq-1/down/command')).toStrictEqual(false);
  });
});
