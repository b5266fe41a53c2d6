import { parseDeviceTopic, TOPIC_ROOT } from '../common/topics.ts';

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

export type ServiceRights = { read: boolean; write: boolean };

/** Services with the `write` scope send downlinks: `sus/v1/devices/{id}/down/…` of any device, nothing else. */
export function serviceMayPublish(rights: ServiceRights, topic: string): boolean {
  if (!rights.write || topic.includes('+') || topic.includes('#')) return false;
  const t = parseDeviceTopic(topic);
  return !!t && t.channel.startsWith('down/') && t.channel.length > 'down/'.length;
}

/** Services with the `read` scope watch the device tree (readings, status, acks), wildcards allowed; never `$SYS`. */
export function serviceMaySubscribe(rights: ServiceRights, filter: string): boolean {
  return rights.read && filter.startsWith(TOPIC_ROOT);
}
