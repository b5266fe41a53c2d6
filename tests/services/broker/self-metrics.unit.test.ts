import { describe, expect, it, vi } from 'vitest';
import type { BrokerStats } from '../../../services/broker/broker.ts';
import { LinePresenceSink } from '../../../services/broker/presence.ts';
import { BrokerSelfMetrics, brokerSelfMetricLine } from '../../../services/broker/self-metrics.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import type { Device } from '../../../services/registry/types.ts';

const stats = (n: number): BrokerStats => ({
  connects: n,
  authFailures: 2 * n,
  aclDenials: 3 * n,
  messagesIn: 100 * n,
});

describe('broker self-metrics', () => {
  it('writes connected clients and the counters as deltas within the interval', () => {
    expect(brokerSelfMetricLine('node a', stats(1), stats(3), 42, 1764000000000)).toStrictEqual(
      'sus_broker,node=node\\ a clients=42i,connects=2i,auth_failures=4i,acl_denials=6i,messages_in=200i 1764000000000',
    );
  });

  it('appends one point per tick to the sink, starting from the counters at start()', async () => {
    const broker = { stats: stats(1), connectedClients: 5 };
    const lines: string[][] = [];
    const m = new BrokerSelfMetrics({
      broker,
      sink: { append: async (l: string[]) => lines.push(l) },
      node: 'n1',
      intervalMs: 60_000,
      log: silentLogger,
    });
    m.start();
    broker.stats = stats(2);
    await m.tick(1000);
    await m.tick(2000);
    m.stop();
    expect(lines).toStrictEqual([
      ['sus_broker,node=n1 clients=5i,connects=1i,auth_failures=2i,acl_denials=3i,messages_in=100i 1000'],
      ['sus_broker,node=n1 clients=5i,connects=0i,auth_failures=0i,acl_denials=0i,messages_in=0i 2000'],
    ]);
  });
});

describe('presence into a line sink', () => {
  it('writes device_status with the device tags, escaped, and online as an integer', async () => {
    const lines: string[] = [];
    const sink = new LinePresenceSink({ append: async (l: string[]) => lines.push(...l) }, silentLogger);
    const device = { id: 'aq-1', department: 'environment', type: 'air_quality', district: 'Alte Stadt' } as Device;
    sink.write(device, true, 1000);
    sink.write({ ...device, district: null }, false, 2000);
    await sink.close();
    expect(lines).toStrictEqual([
      'device_status,department=environment,device=aq-1,device_type=air_quality,district=Alte\\ Stadt online=1i 1000',
      'device_status,department=environment,device=aq-1,device_type=air_quality online=0i 2000',
    ]);
  });
  it('writes the presence changes of 100 ms in one append, over many event-loop turns (a storm is one per CONNECT)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const appends: string[][] = [];
      const sink = new LinePresenceSink({ append: async (l: string[]) => appends.push(l) }, silentLogger);
      const device = { id: 'aq-1', department: 'environment', type: 'air_quality', district: null } as Device;
      for (let i = 1; i <= 3; i++) {
        sink.write({ ...device, id: `aq-${i}` }, true, i);
        await new Promise((r) => setImmediate(r));
      }
      vi.advanceTimersByTime(99);
      expect(appends).toStrictEqual([]);
      vi.advanceTimersByTime(1);
      sink.write(device, false, 4);
      await sink.close();
      expect(appends).toStrictEqual([
        [
          'device_status,department=environment,device=aq-1,device_type=air_quality online=1i 1',
          'device_status,department=environment,device=aq-2,device_type=air_quality online=1i 2',
          'device_status,department=environment,device=aq-3,device_type=air_quality online=1i 3',
        ],
        ['device_status,department=environment,device=aq-1,device_type=air_quality online=0i 4'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});
