/**
 * bench:api — req/s and latency of the service API for four typical requests, each side by side with the
 * InfluxDB query it wraps (the peer: what a client talking to InfluxDB directly would get, without access control,
 * registry join or serialisation):
 *   latest    GET /v1/latest?quantity=air_temperature — latest values of 10,000 devices of one department
 *   aggregate GET /v1/readings/aggregate — a 30-day hourly mean of one device (5-minute raw data)
 *   open      GET /v1/open/datasets/:id/latest?format=geojson — open-data GeoJSON, no key
 *   year      GET /v1/readings/aggregate — a year of daily means of 50 devices (10-minute raw data), answered from
 *             the daily rollups; beside it the rollup engine's catch-up over that year (api-year.ts)
 * Latest values come from the latest-value store, warmed by its rebuild from InfluxDB (timed); each latest case
 * starts after one timed uncached request, and the polling cases repeat `latest` as maps do: gzip, then 304 with
 * the ETag.
 * Two SensorThings requests beside their REST equivalents (the peer here is the REST API):
 *   sta-latest  GET /sta/v1.1/Things(id)?$expand=Datastreams($expand=Observations($top=1;…desc)) vs /v1/latest?device=
 *   sta-day     a day of Observations of one Datastream ($filter on phenomenonTime) vs /v1/readings of that day
 * `npm run bench:api` starts the local InfluxDB it needs (infra/bench.sh); INFLUX_URL names another one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { catalogue } from '../../services/common/catalogue.ts';
import { loadConfig } from '../../services/common/config.ts';
import { readingLine, tagSet } from '../../services/common/line-protocol.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { rebuildLatest } from '../../services/registry/index.ts';
import { type LoadCase, type LoadFigures, runCase } from './api-load.ts';
import { runWrkCase, wrkUnavailable } from './api-load-wrk.ts';
import { prepareYear } from './api-year.ts';

const DEVICES = 10_000;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const CONNECTIONS = 10;
// The load generator (BENCH_LOAD): `wrk` (default when Debian's wrk is installed or can be, api-load-wrk.ts), a C
// client in its own process per case: on 2 cores autocannon was the limit of the latest case (a bare server's 2.1 MB
// answer: p99 80–94 ms through autocannon, 22 ms through wrk). Otherwise autocannon: `worker` (the fallback), a worker
// thread of this process; `process`, its own process (api-load.ts): at rest on 2026-12-02 it got 179 req/s where a
// worker thread got 328 and the bare server's floor 258 against 362, unexplained; `inline` this thread.
// BENCH_WORKERS=1 / 0 name `worker` and `inline`.
const LOADS = ['wrk', 'process', 'worker', 'inline'];
const ASKED =
  process.env.BENCH_LOAD ??
  (process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS) > 0 ? 'worker' : 'inline');
if (ASKED !== undefined && !LOADS.includes(ASKED)) throw new Error(`BENCH_LOAD=${ASKED}: ${LOADS.join(', ')}`);
const WRK_MISSING = ASKED === undefined || ASKED === 'wrk' ? wrkUnavailable() : undefined;
if (ASKED === 'wrk' && WRK_MISSING) throw new Error(`BENCH_LOAD=wrk: ${WRK_MISSING}`);
if (ASKED === undefined && WRK_MISSING) console.log(`bench:api: ${WRK_MISSING}; autocannon in a worker thread instead`);
const LOAD = ASKED ?? (WRK_MISSING ? 'worker' : 'wrk');
// wrk's threads (BENCH_WRK_THREADS, 1): on 2 cores one wrk thread and the platform's main thread have a core each; a
// second wrk thread took the platform's (tests/bench/README.md, 2026-12-02 03:00–04:00: latest p99 28.8/39.2 ms with
// -t1 against 54.8/41.6 ms with -t2 in the same minutes, the platform's loop busier per request with -t2).
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
// The generator receives every answer whole without keeping it as text (api-load.ts); BENCH_LOAD_BODY=text keeps
// autocannon's body strings, whose GC made the tail of the figures before 2026-12-02.
const KEEP_BODY_TEXT = process.env.BENCH_LOAD_BODY === 'text';
const GENERATOR =
  LOAD === 'wrk'
    ? `wrk -t${WRK_THREADS} (C, one process per case; no GC figure, each case checked by its bytes)`
    : `autocannon ${LOAD === 'process' ? 'in its own process' : LOAD === 'worker' ? 'in a worker thread' : 'inline'}${KEEP_BODY_TEXT ? ' (body text kept)' : ''}`;
const ADMIN = `sus_bench_admin_${randomBytes(12).toString('hex')}`;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** The platform's event loop busy per request (ms): its own cost, less sensitive to the machine's load. */
  loopMs: number;
  /** Bytes received per answer (headers and body): every answer came whole. */
  bytesPerAnswer: number;
  /** The load generator's longest GC pause during the case (ms); absent for wrk (C, no GC). */
  loadGcMaxMs: number | undefined;
}

let generator: ChildProcess | undefined;

/** The forked generator (one for the whole bench), started on first use. */
function load(c: LoadCase): Promise<LoadFigures> {
  if (LOAD === 'wrk') return runWrkCase(c, WRK_THREADS);
  if (LOAD !== 'process') return runCase(c, LOAD === 'worker' ? 1 : 0);
  generator ??= fork(new URL('./api-load.ts', import.meta.url).pathname, [], {
    execArgv: ['--max-semi-space-size=64', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const gen = generator;
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
    gen.once('exit', exited);
    gen.once('message', (f: LoadFigures) => {
      gen.off('exit', exited);
      resolve(f);
    });
    gen.send(c);
  });
}

async function run(url: string, headers: Record<string, string>, status = 200): Promise<Figures> {
  const elu = performance.eventLoopUtilization();
  const r = await load({ url, headers, connections: CONNECTIONS, durationS: DURATION_S, keepBodyText: KEEP_BODY_TEXT });
  // autocannon counts a 304 as non-2xx: a case expecting 304 counts every other status as an error.
  const wrong = status === 200 ? r.non2xx : r.non2xx - r.count304 + r.count2xx;
  const busy = performance.eventLoopUtilization(elu);
  return {
    loopMs: Number((busy.active / Math.max(1, r.total)).toFixed(2)),
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors + Math.max(0, wrong),
    bytesPerAnswer: Math.round(r.bytes / Math.max(1, r.total)),
    loadGcMaxMs: r.gcMaxMs,
  };
}

/**
 * The readings above went straight to InfluxDB, past ingest: the latest-value store learns them as after a restart,
 * by the rebuild from InfluxDB (`last()` per series). Returns how long that took.
 */
async function warmLatestStore(platform: Platform): Promise<number> {
  const t0 = performance.now();
  await rebuildLatest(platform.registry.latest, platform.influx, catalogue, silentLogger);
  return Math.round(performance.now() - t0);
}

/**
 * One request, timed: the first read of a latest answer builds it (registry devices, the store's rows, the body),
 * what the polling requests measured after it then share until the store changes.
 */
async function once(url: string, headers: Record<string, string>): Promise<{ ms: number; body: Buffer }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { ...headers, 'accept-encoding': 'identity' } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: Math.round(performance.now() - t0), body };
}

/**
 * The floor under the latest case on this machine at this moment: a bare node:http server in the platform's process
 * sending the same bytes, no routing, access or cache, measured by the same generator right after. On a shared
 * machine the difference to the latest case is the platform's part of the tail.
 */
async function floor(body: Buffer): Promise<Figures> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    return await run(`http://127.0.0.1:${port}/v1/latest`, {});
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * The latest route as maps and dashboards poll it: a browser's Accept-Encoding (the store's answer is kept gzipped)
 * and a revalidation with the ETag it got (304, no body).
 */
async function latestPolling(
  url: string,
  auth: Record<string, string>,
): Promise<{ gzip: Figures; notModified: Figures }> {
  const gzip = await run(url, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
  const etag = (await fetch(url, { headers: auth })).headers.get('etag');
  if (!etag) throw new Error(`no ETag on ${url}`);
  const notModified = await run(url, { ...auth, 'if-none-match': etag }, 304);
  return { gzip, notModified };
}

async function main(): Promise<void> {
  const config = loadConfig({
    ...process.env,
    SUS_HTTP_HOST: '127.0.0.1',
    SUS_HTTP_PORT: '0',
    SUS_DATA_DIR: 'memory://',
    DATABASE_URL: '',
    SUS_ADMIN_KEY: ADMIN,
    INFLUX_DB: `sus_bench_${randomBytes(4).toString('hex')}`,
    SUS_API_RATE_LIMIT: '100000000',
    LOG_LEVEL: 'silent',
  });
  const platform: Platform = await startPlatform(config, silentLogger, { broker: false, api: true });
  const base = `http://127.0.0.1:${platform.httpPort}`;
  const influxQuery = (q: string) =>
    `${config.INFLUX_URL}/query?${new URLSearchParams({ db: config.INFLUX_DB, epoch: 'ms', q }).toString()}`;
  try {
    const reg = platform.registry;
    await reg.createDepartment({ id: 'environment', name: 'Environment' });
    const devices = Array.from({ length: DEVICES }, (_, i) => ({
      id: `aq-${String(i).padStart(5, '0')}`,
      name: `AQ ${i}`,
      department: 'environment',
      type: 'air_quality',
      district: `d${i % 20}`,
      lat: 48.4 + (i % 100) / 1000,
      lon: 9.1 + Math.floor(i / 100) / 1000,
    }));
    for (let i = 0; i < devices.length; i += 1000) await reg.createDevices(devices.slice(i, i + 1000));

    const now = Date.now();
    const write = async (lines: string[]) => {
      const res = await fetch(`${config.INFLUX_URL}/write?db=${config.INFLUX_DB}&precision=ms`, {
        method: 'POST',
        body: lines.join('\n'),
      });
      if (res.status !== 204) throw new Error(`influx write ${res.status}: ${await res.text()}`);
    };
    const line = (d: (typeof devices)[number], v: number, t: number) =>
      readingLine(
        'air_temperature',
        tagSet({
          department: 'environment',
          device: d.id,
          device_type: 'air_quality',
          district: d.district,
          source: 'bench',
        }),
        v,
        t,
      );
    for (let i = 0; i < devices.length; i += 5000)
      await write(devices.slice(i, i + 5000).map((d, j) => line(d, 10 + ((i + j) % 15), now - 60_000)));
    const month = 30 * 24 * 12;
    const one = devices[0]!;
    for (let i = 0; i < month; i += 5000) {
      await write(
        Array.from({ length: Math.min(5000, month - i) }, (_, j) =>
          line(one, 15 + Math.sin((i + j) / 50) * 8, now - (i + j) * 300_000),
        ),
      );
    }
    const typeRes = await fetch(`${base}/v1/device-types`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'air_quality',
        name: 'Air quality',
        quantities: ['air_temperature'],
        expectedIntervalS: 300,
      }),
    });
    if (typeRes.status !== 201) throw new Error(`device type: ${typeRes.status} ${await typeRes.text()}`);
    const grant = await fetch(`${base}/v1/grants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        owner: 'environment',
        grantee: 'public',
        title: 'Air temperature',
        purpose: 'open data',
        quantities: ['air_temperature'],
        expiresAt: new Date(now + 3600_000).toISOString(),
      }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const keyRes = await fetch(`${base}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', department: 'environment', scopes: ['read'] }),
    }).then((r) => r.json() as Promise<{ key: string }>);
    const auth = { authorization: `Bearer ${keyRes.key}` };

    const latestRebuildMs = await warmLatestStore(platform);

    const from = new Date(now - 30 * 24 * 3600_000).toISOString();
    const to = new Date(now).toISOString();
    // Sequential on purpose: two loads at once would share the two cores and distort both.
    const latestCold = await once(`${base}/v1/latest?quantity=air_temperature`, auth);
    const latestColdMs = latestCold.ms;
    const latestApi = await run(`${base}/v1/latest?quantity=air_temperature`, auth);
    // The generator does not keep the bodies: their byte count says every answer came whole.
    if (latestApi.bytesPerAnswer < latestCold.body.length)
      throw new Error(
        `latest: ${latestApi.bytesPerAnswer} bytes per answer, the body alone is ${latestCold.body.length}`,
      );
    const latestFloor = await floor(latestCold.body);
    const latestPeer = await run(
      influxQuery(`SELECT last("value") FROM "air_temperature" WHERE "department" = 'environment' GROUP BY "device"`),
      {},
    );
    const aggregateApi = await run(
      `${base}/v1/readings/aggregate?quantity=air_temperature&device=${one.id}&from=${from}&to=${to}&every=1h&fn=mean`,
      auth,
    );
    const aggregatePeer = await run(
      influxQuery(
        `SELECT mean("value") FROM "air_temperature" WHERE time >= '${from}' AND time < '${to}' AND "device" = '${one.id}' GROUP BY time(3600s) fill(none)`,
      ),
      {},
    );
    const openColdMs = (await once(`${base}/v1/open/datasets/${grant.id}/latest?format=geojson`, {})).ms;
    const openApi = await run(`${base}/v1/open/datasets/${grant.id}/latest?format=geojson`, {});
    const polling = await latestPolling(`${base}/v1/latest?quantity=air_temperature`, auth);
    const staLatest = await run(
      `${base}/sta/v1.1/Things('${one.id}')?$expand=${encodeURIComponent('Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))')}`,
      auth,
    );
    const restLatest = await run(`${base}/v1/latest?device=${one.id}`, auth);
    const dayFrom = new Date(now - 24 * 3600_000).toISOString();
    const staDay = await run(
      `${base}/sta/v1.1/Datastreams('${one.id}:air_temperature')/Observations?$top=300&$filter=${encodeURIComponent(`phenomenonTime ge ${dayFrom}`)}`,
      auth,
    );
    const restDay = await run(
      `${base}/v1/readings?device=${one.id}&quantity=air_temperature&from=${dayFrom}&to=${to}&limit=300`,
      auth,
    );

    const year = await prepareYear(platform, config, ADMIN, (s) => console.log(s));
    const yearApiUrl = `${base}/v1/readings/aggregate?quantity=pm10&department=climate&from=${year.from}&to=${year.to}&every=1d&fn=mean`;
    const adminAuth = { authorization: `Bearer ${ADMIN}` };
    // The first answer reads the days from InfluxDB (timed: year_cold_ms); the load after it repeats the request as
    // a dashboard does, sent the answer the API node built for it until a recomputation changes its days.
    const yearT0 = performance.now();
    const probe = await fetch(yearApiUrl, { headers: adminAuth });
    const yearColdMs = Math.round(performance.now() - yearT0);
    if (probe.status !== 200 || probe.headers.get('sus-source') !== '1d')
      throw new Error(
        `year of daily means: ${probe.status} source ${probe.headers.get('sus-source')}: ${await probe.text()}`,
      );
    const yearWhere = `WHERE time >= '${year.from}' AND time < '${year.to}' AND "department" = 'climate'`;
    const yearApi = await run(yearApiUrl, adminAuth);
    const yearPeerRollup = await run(
      influxQuery(`SELECT sum("sum") / sum("count") FROM "rollup_1d"."pm10" ${yearWhere} GROUP BY time(1d) fill(none)`),
      {},
    );
    // Last: InfluxDB goes on with raw scans whose clients timed out, which would slow whatever ran next.
    const yearPeerRaw = await run(
      influxQuery(`SELECT mean("value") FROM "pm10" ${yearWhere} GROUP BY time(1d) fill(none)`),
      {},
    );

    const row = (name: string, f: Figures, peer?: Figures) =>
      `${name.padEnd(11)} ${String(f.rps).padStart(7)} req/s  p50 ${String(f.p50).padStart(5)} ms  p99 ${String(f.p99).padStart(5)} ms  loop ${f.loopMs} ms/req  errors ${f.errors}` +
      (peer
        ? `   | InfluxDB direct ${peer.rps} req/s, p99 ${peer.p99} ms → API/peer ${(f.rps / peer.rps).toFixed(2)}×`
        : '');
    console.log(
      `bench:api — ${DEVICES} devices, ${CONNECTIONS} connections, ${DURATION_S} s per case, load generator ${GENERATOR}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`,
    );
    console.log(row('latest', latestApi, latestPeer));
    console.log(`${row('  floor', latestFloor)}   (a bare node:http server sending the same bytes)`);
    console.log(row('aggregate', aggregateApi, aggregatePeer));
    console.log(row('open', openApi));
    console.log(row('latest gz', polling.gzip));
    console.log(row('latest 304', polling.notModified));
    console.log(
      `latest-value store rebuilt from InfluxDB (${DEVICES} series) in ${latestRebuildMs} ms; first (uncached) answer: latest ${latestColdMs} ms, open ${openColdMs} ms`,
    );
    const vsRest = (name: string, f: Figures, rest: Figures) =>
      `${row(name, f)}   | REST ${rest.rps} req/s, p99 ${rest.p99} ms → STA/REST ${(f.rps / rest.rps).toFixed(2)}×`;
    console.log(vsRest('sta-latest', staLatest, restLatest));
    console.log(vsRest('sta-day', staDay, restDay));
    console.log(row('year', yearApi, yearPeerRaw));
    console.log(row('  rollups', yearPeerRollup));
    console.log(`year: first (uncached) answer ${yearColdMs} ms`);
    console.log(
      `rollup catch-up: ${year.figures.rawPoints} raw points of ${year.figures.devices} devices in ${year.figures.catchUpS.toFixed(1)} s → ` +
        `${year.figures.catchUpRawPerS} raw points/s, ${year.figures.catchUpRollupPerS} rollup points/s`,
    );
    console.log(
      JSON.stringify({
        bench: 'api',
        load_generator: LOAD,
        ...(LOAD === 'wrk' ? { load_wrk_threads: WRK_THREADS } : { load_body_text: KEEP_BODY_TEXT }),
        load_avg: loadavg().map((l) => Number(l.toFixed(1))),
        latest_rps: latestApi.rps,
        latest_p50_ms: latestApi.p50,
        latest_p99_ms: latestApi.p99,
        latest_loop_ms_per_req: latestApi.loopMs,
        latest_bytes_per_answer: latestApi.bytesPerAnswer,
        latest_load_gc_max_ms: latestApi.loadGcMaxMs,
        latest_floor_rps: latestFloor.rps,
        latest_floor_p50_ms: latestFloor.p50,
        latest_floor_p99_ms: latestFloor.p99,
        latest_vs_influx: Number((latestApi.rps / latestPeer.rps).toFixed(2)),
        aggregate_rps: aggregateApi.rps,
        aggregate_p50_ms: aggregateApi.p50,
        aggregate_p99_ms: aggregateApi.p99,
        aggregate_vs_influx: Number((aggregateApi.rps / aggregatePeer.rps).toFixed(2)),
        open_rps: openApi.rps,
        open_p99_ms: openApi.p99,
        latest_gzip_rps: polling.gzip.rps,
        latest_gzip_p99_ms: polling.gzip.p99,
        latest_304_rps: polling.notModified.rps,
        latest_304_p99_ms: polling.notModified.p99,
        latest_rebuild_ms: latestRebuildMs,
        latest_cold_ms: latestColdMs,
        open_cold_ms: openColdMs,
        sta_latest_rps: staLatest.rps,
        sta_latest_p99_ms: staLatest.p99,
        sta_latest_vs_rest: Number((staLatest.rps / restLatest.rps).toFixed(2)),
        sta_day_rps: staDay.rps,
        sta_day_p99_ms: staDay.p99,
        sta_day_vs_rest: Number((staDay.rps / restDay.rps).toFixed(2)),
        year_daily_rps: yearApi.rps,
        year_daily_p50_ms: yearApi.p50,
        year_daily_p99_ms: yearApi.p99,
        year_daily_cold_ms: yearColdMs,
        year_daily_loop_ms_per_req: yearApi.loopMs,
        year_daily_influx_raw_p99_ms: yearPeerRaw.p99,
        year_daily_influx_rollup_p99_ms: yearPeerRollup.p99,
        year_daily_vs_influx_raw: Number((yearApi.rps / Math.max(1, yearPeerRaw.rps)).toFixed(2)),
        year_raw_points: year.figures.rawPoints,
        rollup_catchup_s: Number(year.figures.catchUpS.toFixed(1)),
        rollup_catchup_points_per_s: year.figures.catchUpRawPerS,
        rollup_catchup_rollup_points_per_s: year.figures.catchUpRollupPerS,
        errors:
          latestApi.errors +
          aggregateApi.errors +
          openApi.errors +
          polling.gzip.errors +
          polling.notModified.errors +
          staLatest.errors +
          staDay.errors +
          restLatest.errors +
          restDay.errors +
          yearApi.errors,
      }),
    );
  } finally {
    generator?.disconnect();
    await platform.stop();
    await platform.influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
