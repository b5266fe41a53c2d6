import http from 'node:http';
import type { MqttClient } from 'mqtt';
import { rawExchange } from '../fuzz/mqtt-packets.ts';
import { sendRaw } from '../fuzz/raw-http.ts';
import type { Rng } from '../fuzz/rng.ts';
import { connectFrom, publishAcked } from '../helpers/mqtt-publish.ts';
import { fixedHeader } from '../helpers/mqtt-wire.ts';

/**
 * The attacks of issue 11, each a fixed, seeded amount of work against a running platform, from outside: MQTT and
 * HTTP from another source address (ATTACKER_ADDRESS) than the well-behaved clients. Each returns what it saw, for
 * the suite to assert on. Each builds its payloads before its first connection: started together, they generate
 * everything before any login's CONNACK timer runs (megabytes of bait held this process's loop for seconds).
 */
export const ATTACKER_ADDRESS = '127.0.0.66';
/**
 * Failed logins slow every login from their address down (by design: spraying usernames from one address stays
 * slow), so the guessing comes from an address of its own, as from another machine of the same attacker.
 */
export const GUESSER_ADDRESS = '127.0.0.67';

/** What the attacks aim with: the attacker's department devices and keys, and the victim department's ids. */
export interface Target {
  mqttPort: number;
  httpPort: number;
  maxPayloadBytes: number;
  /** A device of the attacker's department (canonical JSON) and one that speaks sensor.community. */
  attacker: { device: string; secret: string; esp: string; espSecret: string };
  /** The attacker's department key (write + read). */
  attackerKey: string;
  /** The other department's device. */
  victimDevice: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

const agents = new Map<string, http.Agent>();
const agentFor = (from: string) => {
  const known = agents.get(from);
  if (known) return known;
  const a = new http.Agent({ keepAlive: true, maxSockets: 32 });
  agents.set(from, a);
  return a;
};

/** One HTTP request from `from`, its whole answer read. */
export function request(
  port: number,
  r: { method?: string; path: string; key?: string; body?: string | Buffer; type?: string; from?: string },
): Promise<HttpAnswer> {
  const from = r.from ?? ATTACKER_ADDRESS;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        agent: agentFor(from),
        method: r.method ?? 'GET',
        path: r.path,
        headers: {
          ...(r.key === undefined ? {} : { authorization: `Bearer ${r.key}` }),
          ...(r.body === undefined ? {} : { 'content-type': r.type ?? 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Closes the keep-alive connections `request` opened. */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** A live stream (SSE) read from `from` until `close()`: its answer status and the readings it delivered. */
export interface OpenStream {
  status: number;
  /** The problem body when refused. */
  refusal: string;
  events(): Array<{ device: string; department: string; quantity: string; value: number; time: string }>;
  close(): void;
}

export function openStream(port: number, path: string, key: string, from = ATTACKER_ADDRESS): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      // A connection of its own: a stream holds its socket for as long as it is open.
      { host: '127.0.0.1', port, localAddress: from, path, agent: false, headers: { authorization: `Bearer ${key}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('error', () => {});
        const status = res.statusCode ?? 0;
        const done = () => req.destroy();
        if (status !== 200) {
          res.on('end', () => resolve({ status, refusal: text, events: () => [], close: done }));
          return;
        }
        resolve({
          status,
          refusal: '',
          events: () =>
            text
              .split('\n')
              .filter((l) => l.startsWith('data: {') && l.includes('"quantity"'))
              .map((l) => JSON.parse(l.slice('data: '.length))),
          close: done,
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const hex = (rng: Rng, n: number) => rng.bytes(n).toString('hex');
/** `n` characters drawn from `chars`, built in a Buffer (megabytes of them: no array of one-character strings). */
const drawn = (rng: Rng, n: number, chars: string): string => {
  const b = rng.bytes(n);
  for (let i = 0; i < n; i++) b[i] = chars.charCodeAt(b[i]! % chars.length);
  return b.toString('latin1');
};
const digits = (rng: Rng, n: number) => drawn(rng, n, '0123456789');
const alnum = (rng: Rng, n: number) => drawn(rng, n, 'abcdefghijklmnopqrstuvwxyz0123456789');

/** Runs `jobs` with at most `width` at once. */
export async function inParallel(width: number, jobs: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

const upTopic = (device: string, channel = 'up') => `sus/v1/devices/${device}/${channel}`;

/** The attacker's device on a connection of its own (client ids `<device>:<purpose>` may log in side by side). */
const attackerClient = (t: Target, purpose: string, device = t.attacker.device, secret = t.attacker.secret) => {
  const started = performance.now();
  return connectFrom(t.mqttPort, ATTACKER_ADDRESS, {
    clientId: `${device}:${purpose}`,
    username: device,
    password: secret,
  }).catch((err: Error) => {
    throw new Error(
      `${device}:${purpose} could not log in (${err.message} after ${Math.round(performance.now() - started)} ms)`,
    );
  });
};

/** QoS 1 publishes of one connection, `width` in flight; counts the PUBACKs. */
async function publishAll(
  c: MqttClient,
  messages: Array<{ topic: string; payload: Buffer | string; retain?: boolean }>,
  width = 8,
): Promise<{ acked: number; refused: string[] }> {
  let acked = 0;
  const refused: string[] = [];
  await inParallel(
    width,
    messages.map((m) => async () => {
      try {
        await publishAcked(c, m.topic, m.payload, { retain: m.retain ?? false });
        acked++;
      } catch (err) {
        refused.push((err as Error).message);
      }
    }),
  );
  return { acked, refused };
}

/** sensor.community values of 200,000 digits and an `x`: the backtracking number pattern held the loop ~50 s each. */
export async function regexBlowUp(t: Target, rng: Rng, count: number) {
  const chip = t.attacker.esp.slice('esp8266-'.length);
  const messages = Array.from({ length: count }, () => ({
    topic: upTopic(t.attacker.esp, 'up/sensor-community'),
    payload: JSON.stringify({
      esp8266id: chip,
      sensordatavalues: [{ value_type: 'P1', value: `${digits(rng, 200_000)}x` }],
    }),
  }));
  const c = await attackerClient(t, 'regex', t.attacker.esp, t.attacker.espSecret);
  const r = await publishAll(c, messages, 2);
  await c.endAsync(true);
  return { sent: count, ...r };
}

/** Valid readings published with the retain flag: the broker must strip it (only its own presence is retained). */
export async function retainedPublishes(t: Target, values: readonly number[], t0: number) {
  const c = await attackerClient(t, 'retain');
  const r = await publishAll(
    c,
    values.map((v, i) => ({
      topic: upTopic(t.attacker.device),
      payload: JSON.stringify({ time: t0 + i, values: { pm10: v } }),
      retain: true,
    })),
  );
  await c.endAsync(true);
  return { sent: values.length, ...r };
}

/**
 * Publishes on distinct 60 KiB topics inside the device's own tree, more of them than the broker's topic-match memo
 * may hold by size (8 Mi characters): it must start over rather than keep them.
 */
export async function hugeTopics(t: Target, rng: Rng, count: number) {
  const messages = Array.from({ length: count }, () => ({
    topic: upTopic(t.attacker.device, `up/${alnum(rng, 60 * 1024)}`),
    payload: '{"values":{"pm10":1}}',
  }));
  const c = await attackerClient(t, 'topics');
  const r = await publishAll(c, messages, 4);
  await c.endAsync(true);
  return { sent: count, ...r };
}

/** Payloads nothing can use, as fast as PUBACKs come: dead letters must stay within the per-device rate. */
export async function deadLetterFlood(t: Target, rng: Rng, count: number) {
  const messages = Array.from({ length: count }, (_, i) => ({
    topic: upTopic(t.attacker.device),
    payload: i % 2 === 0 ? `not json ${hex(rng, 64)}` : JSON.stringify({ values: { [`x${hex(rng, 4)}`]: 1 } }),
  }));
  const c = await attackerClient(t, 'flood');
  const r = await publishAll(c, messages, 16);
  await c.endAsync(true);
  return { sent: count, ...r };
}

/** HTTP pushes naming made-up device ids (one per request), and MQTT logins as made-up devices. */
export async function unknownIds(t: Target, rng: Rng, pushes: number, logins: number) {
  const statuses: Record<number, number> = {};
  const pushJobs = Array.from({ length: pushes }, () => {
    const id = `ghost-${hex(rng, 6)}`;
    return async () => {
      const a = await request(t.httpPort, {
        method: 'POST',
        path: `/v1/ingest/canonical?device=${id}`,
        key: t.attackerKey,
        body: '{"values":{"pm10":66.6}}',
      });
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    };
  });
  let refusedLogins = 0;
  const loginJobs = Array.from({ length: logins }, () => {
    const id = `ghost-${hex(rng, 6)}`;
    return async () => {
      try {
        const c = await connectFrom(t.mqttPort, GUESSER_ADDRESS, {
          clientId: id,
          username: id,
          password: hex(rng, 8),
          connectTimeout: 5000,
        });
        await c.endAsync(true);
      } catch {
        refusedLogins++;
      }
    };
  });
  await Promise.all([inParallel(8, pushJobs), inParallel(8, loginJobs)]);
  return { pushStatuses: statuses, refusedLogins, logins };
}

/** Requests with invented API keys: 401 each, then 429 once the address spent its budget. */
export async function inventedKeys(t: Target, rng: Rng, count: number) {
  const statuses: Record<number, number> = {};
  await inParallel(
    16,
    Array.from({ length: count }, () => {
      const key = `sus_${hex(rng, 16)}`;
      return async () => {
        const a = await request(t.httpPort, { path: '/v1/devices', key });
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      };
    }),
  );
  return statuses;
}

/** More live streams than one key may hold, some asking for the other department. */
export async function streamFlood(t: Target, count: number) {
  const streams: OpenStream[] = [];
  await inParallel(
    8,
    Array.from({ length: count }, (_, i) => async () => {
      const path = i % 2 === 0 ? '/v1/stream' : '/v1/stream?department=environment';
      streams.push(await openStream(t.httpPort, path, t.attackerKey));
    }),
  );
  return streams;
}

/** The other department's device named in the attacker's requests, MQTT topics and logins. */
export async function foreignIds(t: Target, rng: Rng) {
  const v = t.victimDevice;
  const key = t.attackerKey;
  const get = async (path: string) => (await request(t.httpPort, { path, key })).status;
  const send = async (method: string, path: string, body: unknown) =>
    (await request(t.httpPort, { method, path, key, body: JSON.stringify(body) })).status;
  const http: Record<string, number> = {
    'GET /v1/devices/{victim}': await get(`/v1/devices/${v}`),
    'GET /v1/devices/{victim}/latest': await get(`/v1/devices/${v}/latest`),
    'GET /v1/devices/{victim}/status': await get(`/v1/devices/${v}/status`),
    'GET /v1/devices/{victim}/acks': await get(`/v1/devices/${v}/acks`),
    'GET /v1/readings?device={victim}': await get(`/v1/readings?device=${v}&quantity=air_temperature`),
    'GET /v1/readings/aggregate?device={victim}': await get(
      `/v1/readings/aggregate?device=${v}&quantity=air_temperature&every=1h`,
    ),
    'PUT /v1/devices/{victim}/config': await send('PUT', `/v1/devices/${v}/config`, { config: { interval: 1 } }),
    'POST /v1/devices/{victim}/commands': await send('POST', `/v1/devices/${v}/commands`, { name: 'reboot' }),
    'POST /v1/devices/{victim}/credentials': await send('POST', `/v1/devices/${v}/credentials`, {}),
    'DELETE /v1/devices/{victim}': (await request(t.httpPort, { method: 'DELETE', path: `/v1/devices/${v}`, key }))
      .status,
  };
  // A push for the victim's device must be answered exactly like one for a device that does not exist.
  const push = (device: string) =>
    request(t.httpPort, {
      method: 'POST',
      path: `/v1/ingest/canonical?device=${device}`,
      key,
      body: '{"values":{"air_temperature":66.6}}',
    });
  const ghost = `ghost-${hex(rng, 6)}`;
  const [foreignPush, ghostPush] = await Promise.all([push(v), push(ghost)]);
  // Listings the attacker's key may read: none may name the victim's device.
  const listings = await Promise.all(
    ['/v1/devices', '/v1/dead-letters', '/v1/latest', '/v1/devices/silent', '/v1/open/datasets'].map(async (path) => ({
      path,
      ...(await request(t.httpPort, { path, key })),
    })),
  );

  // MQTT: publish on the victim's topic, log in with its client id, guess its password.
  const mqtt: Record<string, string> = {};
  const own = await attackerClient(t, 'foreign');
  mqtt['publish on the victim topic'] = await publishAcked(own, upTopic(v), '{"values":{"air_temperature":66.6}}').then(
    () => 'acknowledged',
    () => 'closed',
  );
  await own.endAsync(true);
  mqtt['log in with the victim client id'] = await connectFrom(t.mqttPort, ATTACKER_ADDRESS, {
    clientId: v,
    username: t.attacker.device,
    password: t.attacker.secret,
  }).then(
    async (c) => {
      await c.endAsync(true);
      return 'connected';
    },
    () => 'refused',
  );
  const guesses = await Promise.all(
    Array.from({ length: 25 }, () =>
      connectFrom(t.mqttPort, GUESSER_ADDRESS, {
        clientId: v,
        username: v,
        password: hex(rng, 16),
        connectTimeout: 5000,
      }).then(
        async (c) => {
          await c.endAsync(true);
          return 'connected';
        },
        () => 'refused',
      ),
    ),
  );
  mqtt['guess the victim password (25 times)'] = [...new Set(guesses)].join(',');
  return { http, foreignPush, ghostPush, ghost, listings, mqtt };
}

/** Oversized and deeply nested input over MQTT (before and after login) and HTTP. */
export async function oversized(t: Target) {
  const max = t.maxPayloadBytes;
  const deep = (n: number) => `{"values":{"pm10":${'['.repeat(n)}${']'.repeat(n)}}}`;
  // A CONNECT that announces 200 MiB before any login: the broker must not wait for (or buffer) it.
  const announced = await rawExchange(
    t.mqttPort,
    Buffer.concat([fixedHeader(0x10, 200 * 1024 * 1024), Buffer.alloc(64 * 1024, 0x41)]),
    undefined,
    15_000,
  );
  const c = await attackerClient(t, 'deep');
  const deepMqtt = await publishAll(c, [
    { topic: upTopic(t.attacker.device), payload: deep(5000) },
    { topic: upTopic(t.attacker.device, 'up/senml'), payload: `[${deep(20_000)}]` },
  ]);
  // Then one byte above SUS_MAX_PAYLOAD_BYTES on the same logged-in connection: refused, the connection closed.
  const tooBig = await publishAcked(c, upTopic(t.attacker.device), Buffer.alloc(max + 1, 0x31)).then(
    () => 'acknowledged',
    () => 'closed',
  );
  await c.endAsync(true);
  // Raw sockets. An oversized body is only announced (Content-Length, no bytes): the server must answer from the
  // length alone, without waiting for or reading the body (and a body still being written when it closes would
  // race its answer with a reset).
  const post = async (target: string, body: string | { announced: number }) =>
    (
      await sendRaw(t.httpPort, {
        method: 'POST',
        target,
        headers: [
          ['Authorization', `Bearer ${t.attackerKey}`],
          ['Content-Type', 'application/json'],
          ...(typeof body === 'string'
            ? []
            : ([['Content-Length', String(body.announced)]] as Array<[string, string]>)),
        ],
        ...(typeof body === 'string' ? { body: Buffer.from(body) } : {}),
      })
    ).status;
  const push = `/v1/ingest/canonical?device=${t.attacker.device}`;
  const httpStatuses = {
    'push 5,000 deep': await post(push, deep(5000)),
    'push announcing SUS_MAX_PAYLOAD_BYTES + 1': await post(push, { announced: max + 1 }),
    'create a device announcing 4 MiB': await post('/v1/devices', { announced: 4 * 1024 * 1024 }),
  };
  return { announced, tooBig, deepMqtt, httpStatuses };
}
