import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxQuery } from '../../services/common/influx.ts';
import { openRegistry } from '../../services/registry/index.ts';
import { apiClient } from '../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import { freePort } from '../helpers/net.ts';
import { freshSchema } from '../helpers/postgres.ts';
import { type SusProcess, startSus } from '../helpers/sus-process.ts';
import { startReceiver } from '../helpers/webhook-receiver.ts';

const REDIS = process.env.TEST_REDIS_URL;
const PG = process.env.TEST_DATABASE_URL;
const HAPROXY = spawnSync('haproxy', ['-v']).status === 0;
const why =
  !REDIS || !PG
    ? 'TEST_REDIS_URL or TEST_DATABASE_URL is unset (npm test sets both)'
    : !HAPROXY
      ? 'haproxy is not installed (infra/install-haproxy.sh)'
      : undefined;
if (why) console.warn(`haproxy.test.ts skipped: ${why}`);

// 1,000 devices by default; SUS_CLUSTER_DEVICES lowers it on a slow machine.
const DEVICES = Number(process.env.SUS_CLUSTER_DEVICES ?? 1000);
const PUBLISH_EVERY_MS = 2000;
const RULE_DEVICES = 10;

interface Device {
  id: string;
  secret: string;
  client?: MqttClient;
  /** Reading times the broker acknowledged (PUBACK). */
  acked: Set<number>;
  last: number;
}

/**
 * The acceptance run of issue 17: Debian's HAProxy in front of two `sus broker` and two `sus api` processes on one
 * Redis, one PostgreSQL schema and InfluxDB; devices connect through HAProxy, one broker node is killed with
 * SIGKILL mid-stream and restarted.
 */
describe.skipIf(why !== undefined)('a cluster behind HAProxy loses a broker node without losing a reading', () => {
  const dirs: string[] = [];
  let schema: { url: string; drop(): Promise<void> };
  let env: Record<string, string>;
  let influx: InfluxQuery;
  let haproxy: ReturnType<typeof spawn>;
  const nodes: Record<'b1' | 'b2' | 'a1' | 'a2', SusProcess | undefined> = {
    b1: undefined,
    b2: undefined,
    a1: undefined,
    a2: undefined,
  };
  const ports = { b1: 0, b1h: 0, b2: 0, b2h: 0, a1: 0, a2: 0, mqtt: 0, http: 0 };
  const devices: Device[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let publishing: NodeJS.Timeout | undefined;

  const brokerEnv = (name: 'b1' | 'b2') => ({
    ...env,
    SUS_DATA_DIR: path.join(dirs[0]!, name),
    SUS_MQTT_PORT: String(ports[name]),
    SUS_HEALTH_PORT: String(ports[`${name}h`]),
  });
  const startBrokerNode = (name: 'b1' | 'b2') => {
    nodes[name] = startSus(['broker'], brokerEnv(name));
    return nodes[name]!;
  };
  const startApiNode = (name: 'a1' | 'a2') => {
    nodes[name] = startSus(['api'], { ...env, SUS_HTTP_PORT: String(ports[name]) });
    return nodes[name]!;
  };
  const leaseTaken = (p: SusProcess | undefined) => (p?.log() ?? []).some((l) => l.includes('lease taken'));

  beforeAll(async () => {
    dirs.push(mkdtempSync(path.join(tmpdir(), 'sus-cluster-')));
    schema = (await freshSchema())!;
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    const base = testConfig({ DATABASE_URL: schema.url });
    influx = new InfluxQuery(base);
    await influx.ensureDatabase();
    env = {
      DATABASE_URL: schema.url,
      REDIS_URL: REDIS!,
      SUS_REDIS_PREFIX: `sus-test-${randomBytes(4).toString('hex')}:`,
      INFLUX_DB: base.INFLUX_DB,
      SUS_ADMIN_KEY: TEST_ADMIN_KEY,
      SUS_MQTT_HOST: '127.0.0.1',
      SUS_HTTP_HOST: '127.0.0.1',
      SUS_LEASE_TTL_MS: '2000',
      SUS_API_RATE_LIMIT: '60',
      SUS_WRITE_FLUSH_MS: '50',
      SUS_LOG_JSON: '1',
      LOG_LEVEL: 'info',
      // The rule's webhook receiver runs in the test, on loopback, which the webhook address guard refuses unless allowed.
      SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
    };
    const registry = await openRegistry(base);
    await registry.createDepartment({ id: 'environment', name: 'Environment' });
    const created = await registry.createDevices(
      Array.from({ length: DEVICES }, (_, i) => ({
        id: `cl-${String(i).padStart(4, '0')}`,
        name: `cluster device ${i}`,
        department: 'environment',
        type: 'air_quality',
        // The first few report no2 to the alert rule (a district of their own scopes it).
        district: i < RULE_DEVICES ? 'Regelbezirk' : 'Altstadt',
      })),
    );
    await registry.close();
    for (const c of created) devices.push({ id: c.device.id, secret: c.secret, acked: new Set(), last: 0 });

    // b1 first, alone: it takes the lease, so killing it must move the elected duties.
    await startBrokerNode('b1').up;
    await eventually(async () => leaseTaken(nodes.b1), Boolean);
    const rest = [startBrokerNode('b2').up, startApiNode('a1').api, startApiNode('a2').api];
    expect((await Promise.all(rest)).every((p) => p !== undefined)).toBe(true);

    const config = path.join(dirs[0]!, 'haproxy.cfg');
    writeFileSync(
      config,
      `global
  maxconn 4000
defaults
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  retries 3
  option redispatch
frontend mqtt
  mode tcp
  bind 127.0.0.1:${ports.mqtt}
  default_backend brokers
backend brokers
  mode tcp
  balance roundrobin
  option httpchk GET /readyz
  server b1 127.0.0.1:${ports.b1} check port ${ports.b1h} inter 500 fall 2 rise 2
  server b2 127.0.0.1:${ports.b2} check port ${ports.b2h} inter 500 fall 2 rise 2
frontend api
  mode http
  bind 127.0.0.1:${ports.http}
  default_backend apis
backend apis
  mode http
  balance roundrobin
  option httpchk GET /readyz
  http-response set-header x-sus-node %[srv_name]
  server a1 127.0.0.1:${ports.a1} check inter 500 fall 2 rise 2
  server a2 127.0.0.1:${ports.a2} check inter 500 fall 2 rise 2
`,
    );
    haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: 'ignore' });
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${ports.http}/readyz`).catch(() => undefined))?.status,
      (s) => s === 200,
    );
    receiver = await startReceiver();
  }, 90_000);

  afterAll(async () => {
    clearInterval(publishing);
    await Promise.all(devices.map((d) => d.client?.endAsync(true).catch(() => undefined)));
    haproxy?.kill('SIGTERM');
    await Promise.all(Object.values(nodes).map((p) => p?.stop()));
    await receiver?.close();
    await influx?.query(`DROP DATABASE "${env?.INFLUX_DB}"`, 'POST').catch(() => undefined);
    await schema?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  const publish = (d: Device, values: Record<string, number>) => {
    // Distinct times per device: the reading's identity in InfluxDB.
    const time = Math.max(Date.now(), d.last + 1);
    d.last = time;
    d.client?.publish(`sus/v1/devices/${d.id}/up`, JSON.stringify({ time, values }), { qos: 1 }, (err) => {
      // pm2_5 readings are the ones counted in InfluxDB; no2 ones are the alert rule's.
      if (!err && values.pm2_5 !== undefined) d.acked.add(time);
    });
  };

  it('keeps every acknowledged reading, streams across nodes, limits across nodes, delivers downlinks and moves the duties', async () => {
    const api = apiClient(`http://127.0.0.1:${ports.http}`, TEST_ADMIN_KEY);
    const rule = await api('POST', '/v1/rules', {
      name: 'no2 high',
      owner: 'environment',
      quantity: 'no2',
      district: 'Regelbezirk',
      department: 'environment',
      above: 400,
      notify: [{ type: 'webhook', url: receiver.url, secret: 'cluster-webhook-secret-0123456789' }],
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);

    // Devices through HAProxy: round robin puts half on each broker node.
    const opened = Date.now();
    // A hundred at a time, as a fleet comes up: a thousand logins at once only measure the machine's load.
    for (let i = 0; i < devices.length; i += 100) {
      await Promise.all(
        devices.slice(i, i + 100).map(async (d) => {
          d.client = await connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
            username: d.id,
            password: d.secret,
            clientId: d.id,
            reconnectPeriod: 1000,
            connectTimeout: 30_000,
          });
        }),
      );
    }
    const connectS = (Date.now() - opened) / 1000;

    // A stream client on API node 2 (straight to its port), from now on.
    const streamed = new Set<string>();
    const controller = new AbortController();
    const stream = await fetch(`http://127.0.0.1:${ports.a2}/v1/stream?quantity=pm2_5`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of stream.body!) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          for (const m of buffer.matchAll(/"device":"(cl-\d{4})"/g)) streamed.add(m[1]!);
          buffer = buffer.slice(buffer.lastIndexOf('\n'));
        }
      } catch {
        // aborted at the end of the test
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const streamOpened = Date.now();

    let round = 0;
    publishing = setInterval(() => {
      round++;
      for (const d of devices) publish(d, { pm2_5: round });
    }, PUBLISH_EVERY_MS);
    for (const d of devices.slice(0, RULE_DEVICES)) publish(d, { no2: 900 });
    await eventually(
      async () => devices.filter((d) => [...d.acked].some((t) => t >= streamOpened)).length,
      (n) => n === devices.length,
      30_000,
    );

    // SIGKILL of broker node 1 mid-stream: its clients are the ones that go offline.
    const onB1 = new Set<string>();
    for (const d of devices) d.client!.once('close', () => onB1.add(d.id));
    const killedAt = Date.now();
    nodes.b1!.child.kill('SIGKILL');
    await nodes.b1!.exited;
    const reconnected = await eventually(
      async () => devices.filter((d) => d.client!.connected).length,
      (n) => n === devices.length,
      30_000,
    );
    const reconnectS = (Date.now() - killedAt) / 1000;
    expect(reconnected).toBe(devices.length);
    expect(onB1.size).toBeGreaterThan(0);
    expect(onB1.size).toBeLessThan(devices.length);

    // The elected duties moved within the lease's TTL and a renewal or two (the new holder's log says when).
    const holders = await eventually(
      async () => (['b2', 'a1', 'a2'] as const).filter((n) => leaseTaken(nodes[n])),
      (l) => l.length === 1,
      10_000,
    );
    const takenLine = nodes[holders[0]!]!.log().find((l) => l.includes('lease taken'))!;
    const dutiesMovedS = ((JSON.parse(takenLine) as { time: number }).time - killedAt) / 1000;
    expect(dutiesMovedS).toBeLessThan(10);

    // The stream on API node 2 carried readings of devices that were on broker node 1.
    const fromB1 = [...onB1].filter((id) => streamed.has(id));
    expect(fromB1.length).toBe(onB1.size);

    // The rule devices report the same breach again, now through broker node 2: no second notification.
    for (const d of devices.slice(0, RULE_DEVICES)) publish(d, { no2: 950 });

    // A downlink through API node 1 reaches a device of broker node 1, now on node 2; its ack is recorded.
    const target = devices.find((d) => onB1.has(d.id))!;
    await target.client!.subscribeAsync(`sus/v1/devices/${target.id}/down/command`, { qos: 1 });
    const got = new Promise<{ command: number }>((resolve) =>
      target.client!.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as { command: number })),
    );
    const sent = await apiClient(`http://127.0.0.1:${ports.a1}`, TEST_ADMIN_KEY)<{ id: number }>(
      'POST',
      `/v1/devices/${target.id}/commands`,
      { name: 'ping' },
    );
    expect(sent.status).toBe(202);
    expect((await got).command).toBe(sent.body.id);
    await target.client!.publishAsync(
      `sus/v1/devices/${target.id}/ack`,
      JSON.stringify({ command: sent.body.id, status: 'ok' }),
      { qos: 1 },
    );
    await eventually(
      async () =>
        (
          await apiClient(`http://127.0.0.1:${ports.a2}`, TEST_ADMIN_KEY)<{
            commands: Array<{ id: number; ackStatus: string | null }>;
          }>('GET', `/v1/devices/${target.id}/commands`)
        ).body.commands[0]?.ackStatus,
      (s) => s === 'ok',
    );

    // One rate limit for a key across both API nodes behind HAProxy.
    const made = await api<{ key: string }>('POST', '/v1/keys', {
      name: 'cl-rate',
      department: 'environment',
      scopes: ['read'],
    });
    const limited = apiClient(`http://127.0.0.1:${ports.http}`, made.body.key);
    const servedBy = new Set<string>();
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`http://127.0.0.1:${ports.http}/v1/device-types`, {
        headers: { authorization: `Bearer ${made.body.key}` },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
      servedBy.add(res.headers.get('x-sus-node') ?? '');
    }
    expect([...servedBy].sort()).toStrictEqual(['a1', 'a2']);
    expect(statuses.filter((s) => s !== 200)).toStrictEqual([]);
    expect((await limited('GET', '/v1/device-types')).status).toBe(429);

    // Broker node 1 comes back on its data directory and drains its spool.
    clearInterval(publishing);
    await startBrokerNode('b1').up;
    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    const stored = await eventually(
      async () => {
        const series = (await influx.query('SELECT value FROM pm2_5 GROUP BY device'))[0] ?? [];
        return new Map(series.map((s) => [s.tags!.device!, s.values.map((v) => v[0] as number)]));
      },
      (m) => devices.every((d) => [...d.acked].every((t) => m.get(d.id)?.includes(t))),
      30_000,
    ).catch(async () => new Map<string, number[]>());
    const missing = devices.flatMap((d) => {
      const times = new Set(stored.get(d.id) ?? []);
      return [...d.acked].filter((t) => !times.has(t)).map((t) => `${d.id}@${t}`);
    });
    expect(missing.slice(0, 20)).toStrictEqual([]);
    const duplicates = devices.filter((d) => {
      const times = stored.get(d.id) ?? [];
      return new Set(times).size !== times.length;
    });
    expect(duplicates).toStrictEqual([]);

    // The rule fired once per device, whichever node saw its breaches and whichever node sent the webhooks.
    await eventually(
      async () => new Set(receiver.received.map((r) => r.headers['idempotency-key'])).size,
      (n) => n >= RULE_DEVICES,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const firings = new Map<string, Set<string>>();
    for (const r of receiver.received) {
      const body = JSON.parse(r.body) as { device: string; state: string };
      if (body.state !== 'firing') continue;
      const keys = firings.get(body.device) ?? new Set<string>();
      keys.add(String(r.headers['idempotency-key']));
      firings.set(body.device, keys);
    }
    expect([...firings.values()].map((k) => k.size)).toStrictEqual(Array(RULE_DEVICES).fill(1));
    controller.abort();
    console.log(
      `cluster: ${devices.length} devices connected through HAProxy in ${connectS.toFixed(1)} s; ${onB1.size} on the killed node, all reconnected in ${reconnectS.toFixed(1)} s; duties moved to ${holders[0]} in ${dutiesMovedS.toFixed(1)} s; ${acked} acknowledged readings, all stored once`,
    );
  }, 180_000);
});
