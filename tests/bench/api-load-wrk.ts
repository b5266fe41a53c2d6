/**
 * bench:api's default load generator: Debian's wrk (C, epoll), one child process per case. On 2 cores autocannon
 * (JavaScript) was the limit of the latest case: a bare node:http server sending its 2.1 MB measured p99 80–94 ms
 * through autocannon, 22 ms through wrk. wrk keeps no status counts and its script sees no answer unless it
 * defines response() (which would hand every body to Lua), so each case is checked by bytes instead: one request
 * before the run gives the answer's status and size on the wire, and the run's bytes must be that many answers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LoadCase, LoadFigures } from './api-load.ts';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(import.meta.dirname, 'api-load-wrk.lua');
const MARK = 'SUS_WRK ';
/** autocannon's default: a slow peer (InfluxDB's raw year, p99 ~5 s) is measured, not cut off at wrk's 2 s. */
const TIMEOUT_S = 10;
/** Bytes an answer's headers may differ by from the verified one's (a date, chunk framing). */
const HEADER_SLACK = 256;

/** Why wrk cannot run here, or undefined when it can (installed now through infra/install-wrk.sh when missing). */
export function wrkUnavailable(): string | undefined {
  try {
    execFileSync('bash', [path.join(ROOT, 'infra/install-wrk.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return `Debian's wrk is not installed and could not be (${stderr || (err as Error).message.split('\n')[0]})`;
  }
}

/** One answer as it came over the wire: status, bytes on the socket (status line, headers, framing, body), body. */
interface Answer {
  status: number;
  wireBytes: number;
  bodyBytes: number;
}

/** One request with exactly the case's headers, on its own connection so that the socket counts only its bytes. */
export function verify(url: string, headers: Record<string, string>): Promise<Answer> {
  // keepAlive as wrk's connections are: the server's Connection/Keep-Alive headers are those of the run.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { headers, agent }, (res) => {
      // Kept now: at 'end' the response has handed its socket back to the agent.
      const socket = res.socket;
      let bodyBytes = 0;
      res.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, wireBytes: socket.bytesRead, bodyBytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  }).finally(() => agent.destroy());
}

interface WrkSummary {
  requests: number;
  bytes: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

async function wrk(c: LoadCase, threads: number): Promise<WrkSummary> {
  const args = [
    `-t${Math.min(threads, c.connections)}`,
    `-c${c.connections}`,
    `-d${c.durationS}s`,
    `--timeout`,
    `${TIMEOUT_S}s`,
    '--latency',
    '-s',
    SCRIPT,
    ...Object.entries(c.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    c.url,
  ];
  const { stdout } = await execFileAsync('wrk', args).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`wrk ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  });
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`wrk ${args.join(' ')}: no ${MARK.trim()} line in ${stdout}`);
  return JSON.parse(line.slice(MARK.length)) as WrkSummary;
}

const ms = (us: number) => Math.round(us / 100) / 10;

/**
 * One case through wrk with `threads` threads. Status counts are derived from the verified answer: wrk counts only
 * statuses ≥ 400 (as `status` errors), so the run's bytes must be `requests` answers of the verified size, or the
 * case throws (a mix of 304s and 200s, or of whole and cut answers, would otherwise pass unnoticed).
 * `non2xx` follows autocannon: every answer that is not 2xx, 304s included.
 */
export async function runWrkCase(c: LoadCase, threads: number): Promise<LoadFigures> {
  const answer = await verify(c.url, c.headers);
  const s = await wrk(c, threads);
  const total = s.requests;
  // Answers still arriving when the run ends add their bytes but are not counted: one per connection at most.
  const low = total * answer.bodyBytes;
  const high = (total + c.connections) * (answer.wireBytes + HEADER_SLACK);
  if (s.bytes < low || s.bytes > high)
    throw new Error(
      `wrk ${c.url}: ${s.bytes} bytes for ${total} answers (${Math.round(s.bytes / Math.max(1, total))} each), ` +
        `the verified answer (status ${answer.status}) is ${answer.wireBytes} bytes with a body of ${answer.bodyBytes}: ` +
        `not all answers were that one (errors: ${s.status} status, ${s.connect + s.read + s.write + s.timeout} other)`,
    );
  const ok = total - s.status;
  const is2xx = answer.status >= 200 && answer.status < 300;
  return {
    rps: Math.round(total / (s.duration_us / 1e6)),
    p50: ms(s.p50_us),
    p99: ms(s.p99_us),
    max: ms(s.max_us),
    total,
    bytes: s.bytes,
    errors: s.connect + s.read + s.write + s.timeout,
    non2xx: is2xx ? s.status : total,
    count2xx: is2xx ? ok : 0,
    count304: answer.status === 304 ? ok : 0,
  };
}
