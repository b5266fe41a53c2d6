import { z } from 'zod';
import type { Config } from './config.ts';
import { deviceTopic } from './topics.ts';

/** The topics a device publishes and subscribes to, as its bundle names them. */
export const topicsOf = (id: string) => ({
  up: deviceTopic.up(id),
  status: deviceTopic.status(id),
  down: deviceTopic.down(id, '#'),
  ack: deviceTopic.ack(id),
});

const TopicsSchema = z.object({ up: z.string(), status: z.string(), down: z.string(), ack: z.string() });

export const CredentialsSchema = z
  .object({
    username: z.string(),
    password: z.string().describe('shown once; only its hash is stored'),
    clientId: z.string(),
    topics: TopicsSchema,
  })
  .meta({ id: 'DeviceCredentials' });
export type Credentials = z.output<typeof CredentialsSchema>;

/** What a device needs to connect: its id is username and client id; the secret is shown once. */
export const credentialsFor = (device: { id: string }, secret: string): Credentials => ({
  username: device.id,
  password: secret,
  clientId: device.id,
  topics: topicsOf(device.id),
});

/** The provisioning bundle: what `POST /v1/provision/claim` and `sus device add|bundle` hand out, the firmware reads. */
export const BundleSchema = z
  .object({
    device: z.string(),
    department: z.string(),
    type: z.string(),
    mqtt: z.object({
      urls: z.array(z.string()).min(1),
      username: z.string(),
      password: z.string().describe('shown once'),
      clientId: z.string(),
    }),
    topics: TopicsSchema,
    caCertificate: z.string().nullable().describe('PEM of the broker CA when TLS is on'),
  })
  .meta({ id: 'ProvisioningBundle' });
export type Bundle = z.output<typeof BundleSchema>;

export function provisioningBundle(
  device: { id: string; department: string; type: string },
  credentials: Credentials,
  urls: string[],
  caCertificate: string | null,
): Bundle {
  return {
    device: device.id,
    department: device.department,
    type: device.type,
    mqtt: {
      urls,
      username: credentials.username,
      password: credentials.password,
      clientId: credentials.clientId,
    },
    topics: credentials.topics,
    caCertificate,
  };
}

/**
 * The broker address(es) a bundle names: `configured` (a --mqtt-url flag, else SUS_PUBLIC_MQTT_URL), comma-separated;
 * else mqtt:// on `host` and SUS_MQTT_PORT, with mqtts:// on SUS_MQTTS_PORT first when the broker has TLS.
 */
export function brokerUrls(
  config: Pick<Config, 'SUS_PUBLIC_MQTT_URL' | 'SUS_MQTT_PORT'> &
    Partial<Pick<Config, 'SUS_MQTT_TLS_CERT' | 'SUS_MQTTS_PORT'>>,
  host: string,
  configured = config.SUS_PUBLIC_MQTT_URL,
): string[] {
  if (configured)
    return configured
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
  const urls = [`mqtt://${host}:${config.SUS_MQTT_PORT}`];
  if (config.SUS_MQTT_TLS_CERT) urls.unshift(`mqtts://${host}:${config.SUS_MQTTS_PORT ?? 8883}`);
  return urls;
}
