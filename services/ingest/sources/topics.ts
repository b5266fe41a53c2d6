import { parseDeviceTopic } from '../../common/topics.ts';
import type { Format } from '../decoders/types.ts';

// The Things Stack v3: v3/{application id}@{tenant id}/devices/{device id}/up
const TTN_UP = /^v3\/[^/]+\/devices\/([^/]+)\/up$/;
// ChirpStack v4: application/{application id}/device/{DevEUI}/event/up
const CHIRPSTACK_UP = /^application\/[^/]+\/device\/([0-9a-fA-F]{16})\/event\/up$/;

/**
 * The device a topic names, in the registry's spelling (ChirpStack DevEUI in lower case); '' when the topic names
 * none and the payload has to (the decoder's device id is then used and checked).
 */
export function deviceOfTopic(topic: string, format: Format, deviceTopicLevel?: number): string {
  if (format === 'ttn') return TTN_UP.exec(topic)?.[1] ?? '';
  if (format === 'chirpstack') return CHIRPSTACK_UP.exec(topic)?.[1]?.toLowerCase() ?? '';
  const own = parseDeviceTopic(topic);
  if (own) return own.device;
  if (deviceTopicLevel !== undefined) return topic.split('/')[deviceTopicLevel] ?? '';
  return '';
}
