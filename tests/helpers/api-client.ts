/** A tiny fetch wrapper for API tests: JSON in, status + parsed body + content type out. */
export interface ApiResponse<T = unknown> {
  status: number;
  type: string;
  body: T;
}

export function apiClient(baseUrl: string, key?: string) {
  return async <T = unknown>(method: string, path: string, body?: unknown, asKey = key): Promise<ApiResponse<T>> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(asKey ? { authorization: `Bearer ${asKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    return { status: res.status, type, body: (type.includes('json') && text ? JSON.parse(text) : text) as T };
  };
}
