import type { FastifyRequest } from 'fastify';
import { SusError } from '../common/errors.ts';

// A Host header is a host name or IPv4 address, or a bracketed IPv6 address, and an optional port; nothing else
// may reach a URL the platform hands out (a device's bundle, a SensorThings link, a catalogue entry).
export const HOST_HEADER =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The API's own absolute URL for links in answers (SensorThings selfLinks, the DCAT catalogue): SUS_PUBLIC_API_URL
 * when set (behind a proxy), else the request's scheme and Host header, which must then be a plain host.
 */
export function publicApiUrl(configured: string | undefined, req: FastifyRequest): string {
  if (configured) return configured.replace(/\/+$/, '');
  const host = req.headers.host;
  if (host === undefined || !HOST_HEADER.test(host))
    throw new SusError(
      'SUS_ERR_BAD_HOST',
      "the request's Host header is not a host name, so links cannot name the API: use the platform's address (or the operator sets SUS_PUBLIC_API_URL)",
      400,
      { field: 'host' },
    );
  return `${req.protocol}://${host}`;
}
