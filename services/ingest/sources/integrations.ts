import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { FORMATS } from '../decoders/types.ts';

/**
 * External MQTT brokers ingest subscribes to as a client, one entry per integration, in the JSON file named by
 * SUS_INTEGRATIONS_FILE (an array). Secrets can stay out of the file: `passwordEnv` names a variable holding it.
 */
export const IntegrationSchema = z
  .strictObject({
    /** Short name: stored as the `source` tag `mqtt:<name>` and in dead letters. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, - and _ (at most 32)'),
    url: z.string().regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
    username: z.string().optional(),
    password: z.string().optional(),
    passwordEnv: z.string().optional(),
    /** Topic filter: The Things Stack `v3/{app}@{tenant}/devices/+/up`, ChirpStack `application/{id}/device/+/event/up`. */
    topic: z.string().min(1),
    format: z.enum(FORMATS),
    /** QoS 1 (default): the external broker's message is acknowledged only after ingest has it (spooled). */
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    /** Topic level (0-based) holding the device id, for canonical/SenML topics outside `sus/v1/devices/…`. */
    deviceTopicLevel: z.number().int().min(0).max(15).optional(),
    /** Restrict the integration to one department's devices (like a department's integration key). */
    department: z.string().min(1).optional(),
    clientId: z.string().max(64).optional(),
  })
  .refine((i) => !(i.password && i.passwordEnv), 'give password or passwordEnv, not both');

export const IntegrationsFileSchema = z
  .array(IntegrationSchema)
  .refine((list) => new Set(list.map((i) => i.name)).size === list.length, 'integration names must be unique');

export type Integration = z.output<typeof IntegrationSchema>;

export function loadIntegrations(file: string): Integration[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SusError('SUS_ERR_CONFIG', `cannot read SUS_INTEGRATIONS_FILE ${file}: ${(err as Error).message}`, 500);
  }
  const r = IntegrationsFileSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new SusError('SUS_ERR_CONFIG', `invalid SUS_INTEGRATIONS_FILE ${file}:\n${problems}`, 500);
  }
  return r.data;
}
