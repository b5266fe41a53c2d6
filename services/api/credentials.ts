import { deviceTopic } from '../common/topics.ts';
import type { Device } from '../registry/index.ts';

export const topicsOf = (id: string) => ({
  up: deviceTopic.up(id),
  status: deviceTopic.status(id),
  down: deviceTopic.down(id, '#'),
  ack: deviceTopic.ack(id),
});

/** What a device needs to connect: its id is username and client id; the secret is shown once. */
export const credentialsFor = (device: Device, secret: string) => ({
  username: device.id,
  password: secret,
  clientId: device.id,
  topics: topicsOf(device.id),
});
