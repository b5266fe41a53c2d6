import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackends } from '../../../services/broker/cluster.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import type { Registry } from '../../../services/registry/index.ts';
import { eventually } from '../../helpers/env.ts';
import { connackCode, type Harness, startBroker, testRegistry } from './harness.ts';

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) {
  console.warn('cluster.test.ts skipped: TEST_REDIS_URL is unset (npm test starts redis-server via infra/stack.sh)');
}

describe.skipIf(!REDIS)('cluster mode: two broker nodes on one Redis', () => {
  let registry: Registry;
  let a: Harness;
  let b: Harness;
  let secret: string;

  beforeAll(async () => {
    registry = await testRegistry();
    a = await startBroker({ redisUrl: REDIS }, {}, registry);
    b = await startBroker({ redisUrl: REDIS }, {}, registry);
    // Device ids unique per run: the Redis is shared with other runs and keeps sessions and retained messages.
    secret = await a.device(`cl-${Date.now().toString(36)}`);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await registry?.close();
  });

  it('delivers a downlink published on node B to the device connected to node A', async () => {
    const [device] = await registry.listDevices({ department: 'environment' });
    const id = device!.id;
    const client = await a.connect({ username: id, password: secret, clientId: id });
    const received: string[] = [];
    client.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await client.subscribeAsync(`sus/v1/devices/${id}/down/#`, { qos: 1 });

    // mqemitter-redis subscribes to the Redis channel asynchronously: resend until node A has joined.
    await eventually(
      async () => {
        await b.broker.publish(`sus/v1/devices/${id}/down/command`, Buffer.from('{"command":1,"name":"ping"}'));
        return received;
      },
      (r) => r.length > 0,
    );
    expect(received[0]).toStrictEqual(`sus/v1/devices/${id}/down/command {"command":1,"name":"ping"}`);
  });

  it("shares retained status: node B's subscriber sees the device online on node A", async () => {
    const [device] = await registry.listDevices({ department: 'environment' });
    const { key } = await registry.keys.create({ name: 'cluster-observer', department: null, scopes: ['read'] });
    const observer = await b.connect({ username: 'svc:observer', password: key, clientId: '@svc/observer' });
    const seen: string[] = [];
    observer.on('message', (_t, payload) => seen.push((JSON.parse(payload.toString()) as { status: string }).status));
    await observer.subscribeAsync(`sus/v1/devices/${device!.id}/status`, { qos: 1 });
    await eventually(
      async () => seen,
      (s) => s.length > 0,
    );
    expect(seen[0]).toBe('online');
  });
});

describe.skipIf(!REDIS)('cluster bus shutdown', () => {
  it('leaves no unhandled rejection when publishes follow the close (as Aedes sends $SYS while closing clients)', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      for (let round = 0; round < 10; round++) {
        const backends = redisBackends(REDIS!, silentLogger);
        await new Promise<void>((resolve) => backends.mq.on('cluster-test/#', (_m, done) => done(), resolve));
        const closed = new Promise<void>((resolve) => backends.mq.close(resolve));
        // Aedes publishes through the bus after it began closing it: each of these follows the QUIT on the wire.
        for (let i = 0; i < 50; i++)
          backends.mq.emit({ topic: `cluster-test/${i}`, payload: Buffer.alloc(64) }, () => {});
        await closed;
        await backends.close();
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(rejections.map(String)).toStrictEqual([]);
  });
});

describe.skipIf(!REDIS)('cluster mode: the login throttle counts failures of every node', () => {
  let registry: Registry;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    registry = await testRegistry();
    // A prefix of this run's own: the Redis is shared with other runs, which fail logins from 127.0.0.1 too.
    const options = {
      redisUrl: REDIS,
      redisPrefix: `sus-test-${randomBytes(4).toString('hex')}:`,
      throttle: { freeFailures: 2, maxFailures: 4, baseDelayMs: 1, maxDelayMs: 5, windowMs: 60_000 },
    };
    a = await startBroker(options, {}, registry);
    b = await startBroker(options, {}, registry);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await registry?.close();
  });

  it('locks a username out on node A after failures spread over nodes A and B (each saw fewer than the limit)', async () => {
    const id = `thr-cl-${Date.now().toString(36)}`;
    const secret = await a.device(id);
    const bad = { username: id, password: 'guess', clientId: id };
    const codes = [
      await connackCode(a.url, bad),
      await connackCode(b.url, bad),
      await connackCode(b.url, bad),
      await connackCode(a.url, bad),
    ];
    expect(codes).toStrictEqual([4, 4, 4, 4]);
    // Node A saw two failures, under the limit of four: only the cluster's count refuses the right secret.
    expect(await connackCode(a.url, { username: id, password: secret, clientId: id })).toBe(5);
  });
});
