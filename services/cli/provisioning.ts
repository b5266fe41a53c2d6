/** Provisioning against a running platform's API: register a device, re-issue its bundle, mint a claim code. */
import type { z } from 'zod';
import { ClaimCodeSchema, CreatedDeviceSchema, DeviceSchema } from '../common/api-contract.ts';
import type { Config } from '../common/config.ts';
import { type Bundle, brokerUrls, CredentialsSchema, provisioningBundle } from '../common/provisioning.ts';
import { type ApiTarget, call } from './api-client.ts';

const DeviceRefSchema = DeviceSchema.pick({ id: true, department: true, type: true });

/**
 * MQTT URLs for bundles: --mqtt-url, else SUS_PUBLIC_MQTT_URL, else the API's host on SUS_MQTT_PORT (and on
 * SUS_MQTTS_PORT first when TLS is on), as the API's claim flow names them.
 */
export function mqttUrlsFor(config: Config, api: ApiTarget, flag?: string): string[] {
  return brokerUrls(config, new URL(api.url).hostname, flag ?? config.SUS_PUBLIC_MQTT_URL);
}

export interface NewDevice {
  id?: string;
  name: string;
  department: string;
  type: string;
  district?: string;
  lat?: number;
  lon?: number;
}

/** Registers a device and returns its bundle (the password in it is shown this once). */
export async function addDevice(api: ApiTarget, d: NewDevice, mqttUrls: string[], ca: string | null): Promise<Bundle> {
  const { device, credentials } = await call(api, 'POST', '/v1/devices', CreatedDeviceSchema, d);
  return provisioningBundle(device, credentials, mqttUrls, ca);
}

/** A fresh bundle for an existing device: rotates its password, so an older bundle stops working. */
export async function rebundleDevice(api: ApiTarget, id: string, mqttUrls: string[], ca: string | null) {
  const path = `/v1/devices/${encodeURIComponent(id)}`;
  const device = await call(api, 'GET', path, DeviceRefSchema);
  const credentials = await call(api, 'POST', `${path}/credentials`, CredentialsSchema);
  return provisioningBundle(device, credentials, mqttUrls, ca);
}

/** A one-time, expiring claim code (the API's claim flow, `POST /v1/claims`). */
export async function createClaimCode(
  api: ApiTarget,
  body: { department: string; type: string; ttlS?: number },
): Promise<z.infer<typeof ClaimCodeSchema>> {
  return call(api, 'POST', '/v1/claims', ClaimCodeSchema, body);
}
