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
