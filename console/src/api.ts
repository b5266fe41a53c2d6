/** The console's one door to the platform: same-origin calls with the session cookie and its CSRF token. */
import type { z } from 'zod';
import type { DeadLetterSchema, DeviceSchema, DeviceStatusSchema } from '../../services/common/api-contract.ts';

export interface SessionInfo {
  csrf: string;
  name: string;
  department: string | null;
  scopes: Array<'read' | 'write' | 'provision' | 'admin'>;
  role: 'viewer' | 'technician' | 'department-admin' | 'operator' | null;
  via: 'api-key' | 'oidc';
}

export interface ConsoleSettings {
  tileUrl: string | null;
  tileAttribution: string;
  oidc: boolean;
}

// The API's own response shapes (services/common/api-contract.ts), as types only: nothing of services is bundled.
export type Device = z.output<typeof DeviceSchema>;
export type DeviceStatus = z.output<typeof DeviceStatusSchema>;

export interface Quantity {
  name: string;
  unit: string;
  description: string;
  range: [number, number];
}

export type DeadLetter = z.output<typeof DeadLetterSchema>;

export interface LiveReading {
  device: string;
  quantity: string;
  value: number;
  unit: string;
  time: string;
}

/** A problem body the API answered (application/problem+json): its detail is shown to the person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
export const setCsrf = (token: string) => {
  csrf = token;
};

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new ApiError(
      res.status,
      String(data.code ?? 'SUS_ERR_HTTP'),
      String(data.detail ?? data.title ?? `HTTP ${res.status}`),
    );
  return data as T;
}

/** Live readings of the session's visible devices (filtered by the query), through the SSE stream. */
export function stream(query: Record<string, string>, onReading: (r: LiveReading) => void): () => void {
  const source = new EventSource(`/v1/stream?${new URLSearchParams(query)}`, { withCredentials: true });
  source.addEventListener('reading', (e) => onReading(JSON.parse((e as MessageEvent<string>).data) as LiveReading));
  return () => source.close();
}
