/** The API as `sus device` reaches it: base URL and key, and one call that validates the answer with its schema. */
import type { z } from 'zod';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';

export interface ApiTarget {
  url: string;
  key: string | undefined;
}

export function apiTarget(config: Config, url?: string, key?: string): ApiTarget {
  return {
    url: (url ?? config.SUS_API_URL ?? `http://127.0.0.1:${config.SUS_HTTP_PORT}`).replace(/\/$/, ''),
    key: key ?? config.SUS_API_KEY ?? config.SUS_ADMIN_KEY,
  };
}

export async function call<T>(
  api: ApiTarget,
  method: string,
  path: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(api.key ? { authorization: `Bearer ${api.key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new SusError('SUS_ERR_API_UNREACHABLE', `cannot reach the API at ${api.url}: ${(err as Error).message}`, 503);
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text;
    try {
      const problem = JSON.parse(text) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? text;
    } catch {
      // not a problem+json body: show it as it came
    }
    throw new SusError('SUS_ERR_API', `${method} ${path} → ${res.status}: ${detail}`, res.status);
  }
  // A 204 (a deletion) has no body.
  const parsed = schema.safeParse(text === '' ? null : JSON.parse(text));
  if (!parsed.success) {
    throw new SusError('SUS_ERR_API_RESPONSE', `${method} ${path}: unexpected response (${parsed.error.message})`, 502);
  }
  return parsed.data;
}
