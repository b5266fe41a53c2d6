import { api, type Device } from './api.ts';

export type DeviceState = 'online' | 'silent' | 'never_seen';

/** Expected reporting interval per device type (seconds), for the status colours of lists and the map. */
export async function typeIntervals(): Promise<Map<string, number>> {
  const r = await api<{ deviceTypes: Array<{ id: string; expectedIntervalS: number }> }>('GET', '/v1/device-types');
  return new Map(r.deviceTypes.map((d) => [d.id, d.expectedIntervalS]));
}

/** The API's own rule (SUS_SILENT_FACTOR, default 3 intervals), applied to the list's last-seen times. */
export function stateOf(d: Device, intervals: Map<string, number>, now = Date.now()): DeviceState {
  if (d.lastSeenAt === null) return 'never_seen';
  const interval = (intervals.get(d.type) ?? 300) * 1000;
  return now - Date.parse(d.lastSeenAt) > 3 * interval ? 'silent' : 'online';
}
