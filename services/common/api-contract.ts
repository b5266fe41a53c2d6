import { z } from 'zod';
import { CredentialsSchema } from './provisioning.ts';

/**
 * Response shapes of the REST API that its clients read too (`sus device` against a running platform): the API
 * serialises and documents with these, the CLI validates with the same ones.
 */
export const Timestamp = z.string().describe('ISO 8601 time');

export const DeviceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    department: z.string(),
    type: z.string(),
    district: z.string().nullable(),
    lat: z.number().nullable(),
    lon: z.number().nullable(),
    createdAt: Timestamp,
    lastSeenAt: Timestamp.nullable(),
  })
  .meta({ id: 'Device' });

export const CreatedDeviceSchema = z.object({ device: DeviceSchema, credentials: CredentialsSchema });

export const ReadingSchema = z
  .object({ device: z.string(), quantity: z.string(), value: z.number(), unit: z.string(), time: Timestamp })
  .meta({ id: 'Reading' });

export const ReadingsPageSchema = z.object({
  readings: z.array(ReadingSchema),
  next: z.string().nullable().describe('`from` value for the next page, null on the last page'),
});

export const DeadLetterSchema = z
  .object({
    id: z.number().int(),
    receivedAt: Timestamp,
    source: z.string(),
    topic: z.string().nullable(),
    device: z.string().nullable(),
    reasons: z.array(z.object({ code: z.string(), message: z.string(), field: z.string().optional() })),
    payload: z.string(),
    payloadEncoding: z.enum(['utf8', 'base64']),
    payloadSize: z.number().int(),
    truncated: z.boolean(),
  })
  .meta({ id: 'DeadLetter' });

export const DeadLettersPageSchema = z.object({ deadLetters: z.array(DeadLetterSchema) });

export const DeviceStatusSchema = z
  .object({
    device: z.string(),
    state: z.enum(['online', 'silent', 'never_seen', 'decommissioned']),
    lastSeenAt: Timestamp.nullable(),
    expectedIntervalS: z.number().int(),
    decommissionedAt: Timestamp.nullable(),
    values: z.array(z.object({ quantity: z.string(), value: z.number(), unit: z.string(), time: Timestamp })),
    battery: z.number().nullable().describe('battery_voltage, when the device reports it'),
    signal: z.number().nullable().describe('rssi, when the device reports it'),
  })
  .meta({ id: 'DeviceStatus' });

export const ClaimCodeSchema = z.object({
  code: z.string().describe('one-time code; shown once'),
  department: z.string(),
  type: z.string(),
  expiresAt: Timestamp,
});
