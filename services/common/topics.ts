/** The MQTT topic contract of DESIGN.md: everything a device does lives under its own prefix. */
export const TOPIC_ROOT = 'sus/v1/devices/';

export const deviceTopic = {
  up: (id: string) => `${TOPIC_ROOT}${id}/up`,
  status: (id: string) => `${TOPIC_ROOT}${id}/status`,
  down: (id: string, sub: string) => `${TOPIC_ROOT}${id}/down/${sub}`,
  ack: (id: string) => `${TOPIC_ROOT}${id}/ack`,
} as const;

/**
 * Alert state changes the platform publishes (QoS 1, not retained): `sus/v1/alerts/{department}/{rule}/{device}`.
 * Only the platform publishes here; a department's service account may subscribe to its own department's subtree.
 */
export const ALERT_TOPIC_ROOT = 'sus/v1/alerts/';
export const alertTopic = (department: string, rule: string, device: string) =>
  `${ALERT_TOPIC_ROOT}${department}/${rule}/${device}`;

export interface ParsedTopic {
  device: string;
  /** The rest after the device id, e.g. `up`, `up/senml`, `down/config`. */
  channel: string;
}

/** Splits `sus/v1/devices/{id}/{channel…}`; undefined for anything else. */
export function parseDeviceTopic(topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(TOPIC_ROOT)) return undefined;
  const slash = topic.indexOf('/', TOPIC_ROOT.length);
  if (slash <= TOPIC_ROOT.length) return undefined;
  return { device: topic.slice(TOPIC_ROOT.length, slash), channel: topic.slice(slash + 1) };
}

/** Device ids appear in topics, tags and URLs: keep them to a safe alphabet. */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
