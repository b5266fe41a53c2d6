/** `sus device check`: the technician's live view of one device, by polling the API. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { DeadLettersPageSchema, DeviceStatusSchema, ReadingsPageSchema } from '../common/api-contract.ts';
import { SusError } from '../common/errors.ts';
import { type ApiTarget, call } from './api-client.ts';

export interface CheckOptions {
  pollMs?: number;
  /** Messages shown from before the start (default 5). */
  history?: number;
  signal?: AbortSignal;
  write: (line: string) => void;
}

const fmtValue = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3))));

/** One line per status change (connection state, battery, signal). */
export function statusLine(
  s: Pick<z.infer<typeof DeviceStatusSchema>, 'device' | 'state' | 'lastSeenAt' | 'battery' | 'signal'>,
): string {
  const parts = [`device ${s.device}`, s.state, `last seen ${s.lastSeenAt ?? 'never'}`];
  if (s.battery !== null) parts.push(`battery ${fmtValue(s.battery)} V`);
  if (s.signal !== null) parts.push(`signal ${fmtValue(s.signal)} dBm`);
  return parts.join(' · ');
}

/**
 * Polls the API and prints, in time order, every message of the device as it arrives: the decoded values of a
 * stored reading, or the reasons a message went to the dead-letter store. Runs until the signal aborts.
 */
export async function checkDevice(api: ApiTarget, id: string, o: CheckOptions): Promise<void> {
  const pollMs = o.pollMs ?? 2000;
  const enc = encodeURIComponent(id);
  let lastStatus = '';
  // The first poll shows the last day's messages (the newest `history` of them), later polls only what is new.
  let sinceMs = Date.now() - 24 * 3600_000 - 1;
  let lastDeadLetter = 0;
  let first = true;
  while (!o.signal?.aborted) {
    try {
      const status = await call(api, 'GET', `/v1/devices/${enc}/status`, DeviceStatusSchema);
      const line = statusLine(status);
      if (line !== lastStatus) o.write(line);
      lastStatus = line;
      const from = sinceMs + 1;
      const [{ readings }, { deadLetters }] = await Promise.all([
        call(api, 'GET', `/v1/readings?device=${enc}&from=${from}&limit=1000`, ReadingsPageSchema),
        call(api, 'GET', `/v1/dead-letters?device=${enc}&limit=100`, DeadLettersPageSchema),
      ]);
      // One message = the readings that share a timestamp.
      const messages = new Map<string, string[]>();
      for (const r of readings) {
        const values = messages.get(r.time) ?? [];
        values.push(`${r.quantity}=${fmtValue(r.value)} ${r.unit}`);
        messages.set(r.time, values);
        sinceMs = Math.max(sinceMs, Date.parse(r.time));
      }
      const lines: Array<{ t: number; text: string }> = [...messages].map(([time, values]) => ({
        t: Date.parse(time),
        text: `${time}  reading      ${values.join('  ')}`,
      }));
      for (const d of deadLetters) {
        if (d.id <= lastDeadLetter) continue;
        const reasons = d.reasons.map((r) => `${r.code}${r.field ? ` (${r.field})` : ''}: ${r.message}`).join('; ');
        const payload = d.payload.length > 60 ? `${d.payload.slice(0, 60)}…` : d.payload;
        lines.push({
          t: Date.parse(d.receivedAt),
          text: `${d.receivedAt}  dead-letter  ${reasons}  payload ${payload}`,
        });
      }
      lastDeadLetter = Math.max(lastDeadLetter, ...deadLetters.map((d) => d.id));
      lines.sort((a, b) => a.t - b.t);
      for (const l of first ? lines.slice(-(o.history ?? 5)) : lines) o.write(l.text);
      first = false;
    } catch (err) {
      // A platform restart or a network hiccup must not end the technician's view; a wrong id or key does.
      if (err instanceof SusError && err.statusCode < 500) throw err;
      o.write(`! ${(err as Error).message} (retrying)`);
    }
    await sleep(pollMs, undefined, { signal: o.signal }).catch(() => undefined); // aborted: the loop ends
  }
}
