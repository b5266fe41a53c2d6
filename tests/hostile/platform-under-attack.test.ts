import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/common/config.ts';
import type { InfluxQuery } from '../../services/common/influx.ts';
import { influxString } from '../../services/common/influx.ts';
import { fuzzSettings, Rng } from '../fuzz/rng.ts';
import { eventually, TEST_ADMIN_KEY } from '../helpers/env.ts';
import { connectFrom } from '../helpers/mqtt-publish.ts';
import { freshSchema } from '../helpers/postgres.ts';
import { prepareBroker, type SusProcess, startSus, upOrFail } from '../helpers/sus-process.ts';
import {
  closeAgents,
  deadLetterFlood,
  foreignIds,
  hugeTopics,
  inventedKeys,
  type OpenStream,
  openStream,
  oversized,
  regexBlowUp,
  request,
  retainedPublishes,
  streamFlood,
  type Target,
  unknownIds,
} from './attacks.ts';
import { type ProbeReport, percentile, startProbe } from './probe.ts';

/**
 * Issue 11's acceptance: the whole platform (`sus run`: broker, ingest, spool, API, PGlite registry, InfluxDB) as an
 * operator starts it, attacked from outside over MQTT and HTTP on every front at once from one address, while a
 * device of another department publishes QoS 1 readings and that department's key reads, from another address.
 */
const { seed: SEED } = fuzzSettings(11);
const GOOD_ADDRESS = '127.0.0.1';
const VICTIM = 'aq-env-1';
const ATTACKER = 'tr-att-1';
const ESP = 'esp8266-6666';
/** The well-behaved device publishes at least this many readings, and goes on until the attacks are over. */
const MIN_READINGS = 300;
/** The platform runs with the default limits: the suite checks what an operator gets out of the box. */
const {
  SUS_DEAD_LETTER_RATE: DEAD_LETTER_RATE,
  SUS_STREAM_MAX_PER_KEY: STREAMS_PER_KEY,
  SUS_MAX_PAYLOAD_BYTES: MAX_PAYLOAD,
  SUS_API_RATE_LIMIT: RATE_LIMIT,
} = loadConfig({});
/** The attacks take ~20–30 s on the loaded 2-core machine; far beyond that, the platform stalled. */
const ATTACK_BOUND_S = 90;
/** How much of each attack: enough to pass each bound (rate, stream cap, dead-letter rate) by a margin. */
const ATTACK = {
  regexPayloads: 3,
  retained: 40,
  hugeTopics: 150,
  deadLetters: 3 * DEAD_LETTER_RATE,
  unknownPushes: 200,
  unknownLogins: 30,
  inventedKeys: RATE_LIMIT + 200,
  streams: 3 * STREAMS_PER_KEY,
};

interface Outcomes {
  regex: Awaited<ReturnType<typeof regexBlowUp>>;
  retained: Awaited<ReturnType<typeof retainedPublishes>>;
  topics: Awaited<ReturnType<typeof hugeTopics>>;
  flood: Awaited<ReturnType<typeof deadLetterFlood>>;
  unknown: Awaited<ReturnType<typeof unknownIds>>;
  keys: Record<number, number>;
  foreign: Awaited<ReturnType<typeof foreignIds>>;
  big: Awaited<ReturnType<typeof oversized>>;
  streams: OpenStream[];
}

describe(`the running platform under every attack of issue 11 at once (seed ${SEED})`, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sus-hostile-'));
  let sus: SusProcess | undefined;
  let dropSchema = async () => {};
  let influx: InfluxQuery;
  let victim: MqttClient | undefined;
  let victimCloses = 0;
  let goodStream: OpenStream | undefined;
  let probe: ProbeReport;
  let running: { stop(): Promise<ProbeReport> } | undefined;
  let baselineRss = 0;
  let attacks: Outcomes;
  const t0 = Date.now() - 3_600_000;
  /** Index → value of every reading the well-behaved device got a PUBACK for. */
  const acked = new Map<number, number>();
  const goodReads: number[] = [];
  let envKey = '';
  let envAdminKey = '';
  let auditBefore = '';
  let seconds = 0;
  /** CPU the attacking clients (this process) used meanwhile. */
  let clientCpuSeconds = 0;
  let httpPort = 0;
  let mqttPort = 0;
  /** When the attacks began and ended (Date.now()). */
  const attackWindow = { from: 0, to: 0 };
  /** When each attack was over, in ms after they started. */
  const durations: Record<string, number> = {};

  const victimValue = (i: number) => 10 + (i % 200) / 10;
  const attackerValues = (n: number) => Array.from({ length: n }, (_, i) => 666 + i / 100);

  beforeAll(async () => {
    const started = performance.now();
    // PostgreSQL when the stack provides it (as production runs); PGlite in the data directory otherwise.
    const schema = await freshSchema();
    dropSchema = schema?.drop ?? dropSchema;
    const prepared = await prepareBroker({
      dataDir,
      ...(schema ? { databaseUrl: schema.url } : {}),
      device: { id: VICTIM, name: 'victim', district: 'Nord' },
    });
    influx = prepared.influx;
    sus = startSus(['run'], {
      ...prepared.env,
      SUS_HTTP_HOST: '127.0.0.1',
      SUS_HTTP_PORT: '0',
      SUS_WRITE_FLUSH_MS: '50',
      SUS_SELF_METRICS_INTERVAL_S: '3600',
      LOG_LEVEL: 'info',
    });
    console.log(`setup: registry prepared after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    mqttPort = await upOrFail(sus);
    console.log(`setup: platform up after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    httpPort = (await sus.api)!;
    const admin = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
      const a = await request(httpPort, {
        method,
        path: p,
        key: TEST_ADMIN_KEY,
        from: GOOD_ADDRESS,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (a.status >= 300) throw new Error(`${method} ${p}: ${a.status} ${a.body}`);
      return JSON.parse(a.body) as T;
    };
    await admin('POST', '/v1/departments', { id: 'traffic', name: 'Traffic' });
    const device = (id: string) =>
      admin<{ credentials: { password: string } }>('POST', '/v1/devices', {
        id,
        name: id,
        department: 'traffic',
        type: 'air_quality',
        district: 'Nord',
      }).then((d) => d.credentials.password);
    const key = (department: string, scopes: string[]) =>
      admin<{ key: string }>('POST', '/v1/keys', { name: `${department} ${scopes}`, department, scopes }).then(
        (k) => k.key,
      );
    const target: Target = {
      mqttPort,
      httpPort,
      maxPayloadBytes: MAX_PAYLOAD,
      attacker: { device: ATTACKER, secret: await device(ATTACKER), esp: ESP, espSecret: await device(ESP) },
      attackerKey: await key('traffic', ['read', 'write', 'provision']),
      victimDevice: VICTIM,
    };
    envKey = await key('environment', ['read']);
    envAdminKey = await key('environment', ['admin']);
    auditBefore = (await request(httpPort, { path: '/v1/audit', key: envAdminKey, from: GOOD_ADDRESS })).body;

    // The well-behaved side, from its own address: a live stream, a device, a reader.
    goodStream = await openStream(httpPort, '/v1/stream', envKey, GOOD_ADDRESS);
    victim = await connectFrom(mqttPort, GOOD_ADDRESS, {
      clientId: VICTIM,
      username: VICTIM,
      password: prepared.secret,
      reconnectPeriod: 200,
    });
    victim.on('close', () => victimCloses++);
    console.log(`setup: platform up and seeded after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    running = startProbe(`http://127.0.0.1:${httpPort}/v1/health`, sus.child.pid!);
    // A second of the platform at rest: the memory it holds before the attacks.
    await new Promise((r) => setTimeout(r, 1000));

    let attacking = true;
    const good = victim;
    const publishing = new Promise<void>((resolve) => {
      let next = 0;
      let inFlight = 0;
      const tick = setInterval(() => {
        if (!attacking && next >= MIN_READINGS) {
          if (inFlight === 0) {
            clearInterval(tick);
            resolve();
          }
          return;
        }
        if (inFlight >= 10) return;
        const i = next++;
        inFlight++;
        const payload = JSON.stringify({ time: t0 + i, values: { air_temperature: victimValue(i) } });
        good.publish(`sus/v1/devices/${VICTIM}/up`, payload, { qos: 1 }, (err) => {
          inFlight--;
          if (!err) acked.set(i, victimValue(i));
        });
      }, 20);
    });
    const reading = (async () => {
      while (attacking) {
        const a = await request(httpPort, { path: `/v1/devices/${VICTIM}/latest`, key: envKey, from: GOOD_ADDRESS });
        goodReads.push(a.status);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const rng = new Rng(SEED);
    const attackStart = performance.now();
    attackWindow.from = Date.now();
    const testCpu = process.cpuUsage();
    try {
      const streams = await streamFlood(target, ATTACK.streams);
      const timed = <T>(name: string, p: Promise<T>): Promise<T> =>
        p.finally(() => {
          durations[name] = Math.round(performance.now() - attackStart);
        });
      const all = Promise.all([
        timed('regex', regexBlowUp(target, rng.fork(1), ATTACK.regexPayloads)),
        timed('retained', retainedPublishes(target, attackerValues(ATTACK.retained), t0)),
        timed('topics', hugeTopics(target, rng.fork(2), ATTACK.hugeTopics)),
        timed('flood', deadLetterFlood(target, rng.fork(3), ATTACK.deadLetters)),
        timed('unknown', unknownIds(target, rng.fork(4), ATTACK.unknownPushes, ATTACK.unknownLogins)),
        timed('keys', inventedKeys(target, rng.fork(5), ATTACK.inventedKeys)),
        timed('foreign', foreignIds(target, rng.fork(6))),
        timed('oversized', oversized(target)),
      ]);
      // A stalled platform never finishes them: fail with what the probe saw instead of a hook timeout.
      let deadline: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        deadline = setTimeout(async () => {
          const seen = await running?.stop();
          running = undefined;
          const max = seen ? Math.max(...seen.healthMs).toFixed(0) : '?';
          reject(
            new Error(`the attacks were not over after ${ATTACK_BOUND_S} s (health answered within ${max} ms at most)`),
          );
        }, ATTACK_BOUND_S * 1000);
      });
      const [regex, retained, topics, flood, unknown, keys, foreign, big] = await Promise.race([all, stalled]).finally(
        () => clearTimeout(deadline),
      );
      attacks = { regex, retained, topics, flood, unknown, keys, foreign, big, streams };
      seconds = (performance.now() - attackStart) / 1000;
      const used = process.cpuUsage(testCpu);
      clientCpuSeconds = (used.user + used.system) / 1e6;
      attackWindow.to = Date.now();
    } catch (err) {
      // The well-behaved side stops without waiting for answers a stalled platform would not give.
      attacking = false;
      reading.catch(() => undefined);
      throw err;
    }
    attacking = false;
    await Promise.all([publishing, reading]);
    // Every acknowledged reading reaches the department's own stream.
    await eventually(
      async () => goodStream!.events().length,
      (n) => n >= acked.size,
      20_000,
    );
    // The probe samples every 100 ms in its own thread: let it send samples after the last attack ended, so its
    // report spans the whole attack window (stopped at once, its last sample could predate the window's end).
    const tail = attackWindow.to + 300 - Date.now();
    if (tail > 0) await new Promise((r) => setTimeout(r, tail));
    probe = await running.stop();
    running = undefined;
    console.log(
      'slow health samples (ms after the attacks began → latency):',
      probe.sentAt
        .flatMap((at, i) =>
          probe.healthMs[i]! > 300 ? [`${(at - attackWindow.from).toFixed(0)}→${probe.healthMs[i]!.toFixed(0)}`] : [],
        )
        .join(' '),
    );
    baselineRss = Math.max(...probe.rssBytes.slice(0, 5));
    console.log(
      `hostile: attacks took ${seconds.toFixed(1)} s (whole setup and run ${((performance.now() - started) / 1000).toFixed(1)} s); ` +
        `${probe.healthMs.length} health samples, max ${Math.max(...probe.healthMs).toFixed(0)} ms, p99 ${percentile(probe.healthMs, 0.99).toFixed(0)} ms; ` +
        `CPU: platform ${((probe.cpuMs.at(-1)! - probe.cpuMs[0]!) / 1000).toFixed(1)} s, clients ${clientCpuSeconds.toFixed(1)} s; well-behaved readings acknowledged ${acked.size}; attacks over after ${JSON.stringify(durations)} ms; RSS at rest ${(baselineRss / 2 ** 20).toFixed(0)} MiB, max ${(Math.max(...probe.rssBytes) / 2 ** 20).toFixed(0)} MiB`,
    );
  }, 180_000);

  afterAll(async () => {
    await running?.stop();
    goodStream?.close();
    for (const s of attacks?.streams ?? []) s.close();
    closeAgents();
    await victim?.endAsync(true);
    // A platform that stalled (the failure this suite looks for) may not stop on SIGTERM in time.
    const killed = setTimeout(() => sus?.child.kill('SIGKILL'), 20_000);
    await sus?.stop();
    clearTimeout(killed);
    await dropSchema();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('answers /v1/health with 200 within 1 s at every 100 ms sample while attacked', () => {
    expect(probe.unhealthy).toStrictEqual([]);
    expect(Math.max(...probe.healthMs)).toBeLessThan(1000);
    // Asked without a pause longer than a second from before the attacks until after them.
    const gaps = probe.sentAt.slice(1).map((at, i) => at - probe.sentAt[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1100);
    expect(probe.sentAt[0]!).toBeLessThan(attackWindow.from);
    expect(probe.sentAt.at(-1)!).toBeGreaterThan(attackWindow.to);
  });

  it('stores every reading the well-behaved device got a PUBACK for, exactly, and keeps it connected', async () => {
    expect(acked.size).toBeGreaterThanOrEqual(MIN_READINGS);
    expect(victimCloses).toBe(0);
    const stored = async () =>
      (
        await influx.query(
          `SELECT "value" FROM "air_temperature" WHERE "device" = ${influxString(VICTIM)} AND time >= ${t0}ms`,
        )
      )[0]?.[0]?.values ?? [];
    await eventually(stored, (rows) => rows.length >= acked.size, 30_000);
    const rows = (await stored()).map(([t, v]) => [Number(new Date(t as string)) - t0, v]);
    expect(rows).toStrictEqual([...acked].sort(([a], [b]) => a - b));
    // The department's key read its device throughout, never limited by the attacker's floods.
    expect(new Set(goodReads)).toStrictEqual(new Set([200]));
  });

  it("keeps the other department's readings, dead letters, stream and audit free of the attacker", async () => {
    // InfluxDB: the department's points are its own device's readings and presence.
    const [series = []] = await influx.query(
      `SELECT * FROM /.*/ WHERE "department" = 'environment' AND time >= ${t0}ms GROUP BY "device"`,
    );
    expect([...new Set(series.map((s) => `${s.name} ${s.tags?.device}`))].sort()).toStrictEqual([
      `air_temperature ${VICTIM}`,
      `device_status ${VICTIM}`,
    ]);
    // No point without a device (a forged line) anywhere.
    const [forged = []] = await influx.query(`SELECT count(*) FROM /.*/ WHERE "device" = '' AND time >= ${t0}ms`);
    expect(forged).toStrictEqual([]);

    // Dead letters: the department has none (its device sent nothing wrong; foreign pushes are filed under no device).
    const dead = await request(httpPort, { path: '/v1/dead-letters', key: envAdminKey, from: GOOD_ADDRESS });
    expect([dead.status, JSON.parse(dead.body)]).toStrictEqual([200, { deadLetters: [], next: null }]);

    // The department's live stream carried its own device's readings, every acknowledged one.
    const events = goodStream!.events();
    expect([...new Set(events.map((e) => `${e.department} ${e.device} ${e.quantity}`))]).toStrictEqual([
      `environment ${VICTIM} air_temperature`,
    ]);
    const streamed = new Set(events.map((e) => Date.parse(e.time) - t0));
    expect([...acked.keys()].filter((i) => !streamed.has(i))).toStrictEqual([]);

    // Its audit log: nobody read through a grant, so it is as it was.
    const audit = await request(httpPort, { path: '/v1/audit', key: envAdminKey, from: GOOD_ADDRESS });
    expect(audit.body).toBe(auditBefore);
  });

  it('keeps its resident memory bounded', () => {
    // The attacks send ~1 MB of regex bait, 2 MB of topics and a few MB of floods: a process that kept what they
    // sent (retained messages, memo entries, cached misses) would grow by that many times the copies it keeps.
    const max = Math.max(...probe.rssBytes);
    expect(baselineRss).toBeGreaterThan(0);
    expect(max - baselineRss).toBeLessThan(128 * 2 ** 20);
  });

  it('acknowledges hostile payloads on its own topics and files their dead letters within the per-device rate', async () => {
    const a = attacks;
    expect([a.regex, a.retained, a.topics, a.flood, a.big.deepMqtt].map((r) => [r.acked, r.refused])).toStrictEqual([
      [ATTACK.regexPayloads, []],
      [ATTACK.retained, []],
      [ATTACK.hugeTopics, []],
      [ATTACK.deadLetters, []],
      [2, []],
    ]);
    // The attacker's device filed SUS_DEAD_LETTER_RATE dead letters and one summary counting the rest.
    const rows = async (q: string) => {
      const r = await request(httpPort, {
        path: `/v1/dead-letters?${q}&limit=1000`,
        key: TEST_ADMIN_KEY,
        from: GOOD_ADDRESS,
      });
      return (JSON.parse(r.body) as { deadLetters: Array<{ reasons: Array<{ code: string }> }> }).deadLetters;
    };
    const own = await rows(`device=${ATTACKER}`);
    expect(own.length).toBe(DEAD_LETTER_RATE + 1);
    expect(own.filter((d) => d.reasons[0]?.code === 'INGEST_DEAD_LETTERS_SUPPRESSED').length).toBe(1);
    expect((await rows(`device=${ESP}`)).length).toBe(ATTACK.regexPayloads);
    // Retain flags were stripped, each counted.
    const metrics = await request(httpPort, { path: '/metrics', from: GOOD_ADDRESS });
    expect(/sus_mqtt_retain_stripped_total\{source="publish"\} (\d+)/.exec(metrics.body)?.[1]).toBe(
      String(ATTACK.retained),
    );
  });

  it("keeps no device's retained message: a new subscriber to every topic gets the platform's presence only", async () => {
    const observer = await connectFrom(mqttPort, GOOD_ADDRESS, {
      clientId: '@svc/hostile-observer',
      username: 'svc:hostile-observer',
      password: TEST_ADMIN_KEY,
    });
    const retained: string[] = [];
    observer.on('message', (topic, _payload, packet) => {
      if (packet.retain) retained.push(topic);
    });
    try {
      await observer.subscribeAsync('sus/v1/devices/#', { qos: 1 });
      // Every device that logged in left a retained presence; a second SUBACK comes after the first replay.
      const statuses = [VICTIM, ATTACKER, ESP].map((d) => `sus/v1/devices/${d}/status`);
      await eventually(
        async () => retained,
        (r) => statuses.every((t) => r.includes(t)),
      );
      await observer.subscribeAsync('sus/v1/devices/no-such-device/status', { qos: 1 });
      expect([...new Set(retained)].sort()).toStrictEqual(statuses.sort());
    } finally {
      await observer.endAsync(true);
    }
  });

  it('refuses made-up devices, invented keys, extra streams and oversized input with their coded answers', () => {
    const a = attacks;
    expect(a.unknown).toStrictEqual({
      pushStatuses: { 422: ATTACK.unknownPushes },
      refusedLogins: ATTACK.unknownLogins,
      logins: ATTACK.unknownLogins,
    });
    // 401 until the address spent its minute's budget (SUS_API_RATE_LIMIT), then 429 without a registry lookup.
    expect(Object.keys(a.keys).sort()).toStrictEqual(['401', '429']);
    expect(a.keys[401]! + a.keys[429]!).toBe(ATTACK.inventedKeys);
    // The budget is per minute: a flood that ran longer (a loaded machine) got a fresh one each minute it touched.
    const minutes = Math.ceil(durations.keys! / 60_000) + 1;
    expect(a.keys[401]!).toBeLessThanOrEqual(RATE_LIMIT * minutes);
    // Streams: SUS_STREAM_MAX_PER_KEY open, the rest 429 SUS_ERR_STREAM_LIMIT; the open ones carried only the
    // attacker's own department, nothing when they asked for the other one.
    const open = a.streams.filter((s) => s.status === 200);
    expect(open.length).toBe(STREAMS_PER_KEY);
    expect(
      a.streams.filter((s) => s.status !== 200).map((s) => [s.status, JSON.parse(s.refusal).code as string]),
    ).toStrictEqual(Array(ATTACK.streams - STREAMS_PER_KEY).fill([429, 'SUS_ERR_STREAM_LIMIT']));
    expect([...new Set(open.flatMap((s) => s.events().map((e) => e.department)))]).toStrictEqual(['traffic']);
    // Oversized: closed before login and after it, 422 and 413 over HTTP.
    expect([a.big.announced.closed, a.big.tooBig]).toStrictEqual([true, 'closed']);
    expect(a.big.httpStatuses).toStrictEqual({
      'push 5,000 deep': 422,
      'push announcing SUS_MAX_PAYLOAD_BYTES + 1': 413,
      'create a device announcing 4 MiB': 413,
    });
  });

  it("answers the attacker about the other department's device as about one that does not exist", () => {
    const f = attacks.foreign;
    expect(f.http).toStrictEqual({
      'GET /v1/devices/{victim}': 404,
      'GET /v1/devices/{victim}/latest': 404,
      'GET /v1/devices/{victim}/status': 404,
      'GET /v1/devices/{victim}/acks': 404,
      'GET /v1/readings?device={victim}': 404,
      'GET /v1/readings/aggregate?device={victim}': 404,
      'PUT /v1/devices/{victim}/config': 404,
      'POST /v1/devices/{victim}/commands': 404,
      'POST /v1/devices/{victim}/credentials': 404,
      'DELETE /v1/devices/{victim}': 404,
    });
    const alike = (a: { status: number; body: string }, id: string) => ({
      status: a.status,
      body: { ...JSON.parse(a.body.replaceAll(id, '{id}')), deadLetterId: 'n' },
    });
    expect(alike(f.foreignPush, VICTIM)).toStrictEqual(alike(f.ghostPush, f.ghost));
    // What the attacker's key may list names nothing of the other department.
    for (const l of f.listings) {
      expect(l.status, l.path).toBe(200);
      const body = JSON.parse(l.body) as Record<string, Array<Record<string, unknown>>>;
      const items = Object.values(body).find(Array.isArray) ?? [];
      expect(
        items.filter(
          (x) => x.device === VICTIM || x.id === VICTIM || x.department === 'environment' || x.owner === 'environment',
        ),
        l.path,
      ).toStrictEqual([]);
    }
    expect(f.mqtt).toStrictEqual({
      'publish on the victim topic': 'closed',
      'log in with the victim client id': 'refused',
      'guess the victim password (25 times)': 'refused',
    });
  });
});
