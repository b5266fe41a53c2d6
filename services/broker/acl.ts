import { ALERT_TOPIC_ROOT, parseDeviceTopic, TOPIC_ROOT } from '../common/topics.ts';

/** Channels a device may publish on under its own prefix: readings and answers to downlinks. */
export function mayPublish(device: string, topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  const t = parseDeviceTopic(topic);
  if (!t || t.device !== device) return false;
  const c = t.channel;
  return c === 'up' || c.startsWith('up/') || c === 'ack' || c.startsWith('ack/');
}

/** A device may subscribe only to its own downlink tree. */
export function maySubscribe(device: string, filter: string): boolean {
  const own = `${TOPIC_ROOT}${device}/down`;
  return filter === `${own}/#` || filter === own || filter.startsWith(`${own}/`);
}

/** MQTT client ids are session keys: a device may only use its own id (or `id:suffix`), never another's. */
export function mayUseClientId(device: string, clientId: string): boolean {
  return clientId === device || clientId.startsWith(`${device}:`);
}

/** Client ids of service accounts; `@` is outside the device id alphabet, so no device can take such a session over. */
export const SERVICE_CLIENT_PREFIX = '@svc/';
/** MQTT username prefix of a service account; the password is a platform-wide API key. */
export const SERVICE_USERNAME_PREFIX = 'svc:';

/**
 * SensorThings MQTT readers (the read extension, OGC 18-088 §14.2): username `sta`, password an API key of any
 * department with the read scope, or none for open data; client ids under `@sta/` (outside the device id alphabet).
 */
export const STA_USERNAME = 'sta';
export const STA_CLIENT_PREFIX = '@sta/';
/** The SensorThings topic tree (`v1.1/Datastreams('…')/Observations`): readers subscribe there and nowhere else. */
export const STA_TOPIC_ROOT = 'v1.1/';

/** `department`: a department key's service account (its own alerts only); null: a platform-wide key. */
export type ServiceRights = { read: boolean; write: boolean; department: string | null };

/** Platform-wide services with the `write` scope send downlinks: `sus/v1/devices/{id}/down/…`, nothing else. */
export function serviceMayPublish(rights: ServiceRights, topic: string): boolean {
  // A department's account may not command another department's devices; it only listens to its alerts.
  if (!rights.write || rights.department !== null || topic.includes('+') || topic.includes('#')) return false;
  const t = parseDeviceTopic(topic);
  return !!t && t.channel.startsWith('down/') && t.channel.length > 'down/'.length;
}

/**
 * Services with the `read` scope: platform-wide ones watch the device tree (readings, status, acks) and every
 * department's alerts, wildcards allowed; a department's only `sus/v1/alerts/{department}/…` (a wildcard cannot
 * reach past its department: the filter must start with that prefix). Never `$SYS`.
 */
export function serviceMaySubscribe(rights: ServiceRights, filter: string): boolean {
  if (!rights.read) return false;
  if (rights.department !== null) return filter.startsWith(`${ALERT_TOPIC_ROOT}${rights.department}/`);
  return filter.startsWith(TOPIC_ROOT) || filter.startsWith(ALERT_TOPIC_ROOT);
}
