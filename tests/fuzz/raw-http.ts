import net from 'node:net';

/**
 * HTTP/1.1 over a raw socket: fetch() and node:http refuse to send control characters in headers or a NUL in a
 * path, and a fuzzer must send exactly those bytes. One connection per request (`Connection: close`).
 */
export interface RawRequest {
  method: string;
  /** Request target as sent: path and query, already percent-encoded (or deliberately not). */
  target: string;
  headers: Array<[string, string]>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Time until the whole answer (or, for an event stream, its head) arrived. */
  ms: number;
  /** No answer within the hard timeout: the status is 0. */
  timedOut: boolean;
}

export function encodeRequest(r: RawRequest): Buffer {
  const head = [`${r.method} ${r.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of r.headers) head.push(`${k}: ${v}`);
  if (r.body !== undefined) head.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8'), r.body ?? Buffer.alloc(0)]);
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Sends one request; resolves with the answer (never rejects: a reset or a timeout is an answer too). */
export function sendRaw(port: number, r: RawRequest, hardTimeoutMs = 10_000): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string>; bodyAt: number } | undefined;
    let done = false;
    const finish = (timedOut = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status: head?.status ?? 0,
        headers: head?.headers ?? {},
        body: head ? buf.subarray(head.bodyAt) : Buffer.alloc(0),
        ms: performance.now() - started,
        timedOut,
      });
    };
    const timer = setTimeout(() => finish(true), hardTimeoutMs);
    // write, not end: Node's server drops a half-closed connection whose answer is still being computed.
    socket.on('connect', () => socket.write(encodeRequest(r)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!head) {
        const at = buf.indexOf(HEAD_END);
        if (at < 0) return;
        const lines = buf.subarray(0, at).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        head = { status: Number(lines[0]?.split(' ')[1] ?? 0), headers, bodyAt: at + 4 };
        // A live stream never ends: its head is the answer.
        if ((headers['content-type'] ?? '').startsWith('text/event-stream')) return finish();
      }
      const length = head.headers['content-length'];
      if (length !== undefined && buf.length - head.bodyAt >= Number(length)) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', () => finish());
  });
}

/** A shell word in single quotes. */
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Bytes as a printf %b argument: printable ASCII as is, everything else as \xHH. */
function printfEscape(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

const printableAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

/**
 * A shell line that sends exactly this request again: curl when curl can express it (printable target and headers),
 * otherwise the raw bytes through bash's /dev/tcp.
 */
export function reproduction(port: number, r: RawRequest): string {
  const curlable = printableAscii(r.target) && r.headers.every(([k, v]) => printableAscii(k) && printableAscii(v));
  if (curlable) {
    const parts = ['curl -sS -i --path-as-is', '-X', r.method, quote(`http://127.0.0.1:${port}${r.target}`)];
    for (const [k, v] of r.headers) parts.push('-H', quote(`${k}: ${v}`));
    if (r.body === undefined) return parts.join(' ');
    // curl would add a form Content-Type and an Expect header of its own.
    if (!r.headers.some(([k]) => k.toLowerCase() === 'content-type')) parts.push('-H', quote('Content-Type:'));
    parts.push('-H', quote('Expect:'));
    return `printf '%b' ${quote(printfEscape(r.body))} | ${parts.join(' ')} --data-binary @-`;
  }
  return `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}; printf "%b" "$0" >&3; cat <&3' ${quote(printfEscape(encodeRequest(r)))}`;
}
