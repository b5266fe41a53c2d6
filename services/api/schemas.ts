import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../common/topics.ts';
import { SCOPES } from '../registry/types.ts';

/** API shapes: request validation, response serialisation and the OpenAPI document all come from these. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('stable machine-readable error code, e.g. SUS_ERR_VALIDATION'),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .loose()
  .meta({ id: 'Problem' });

const Timestamp = z.string().describe('ISO 8601 time');
const DepartmentId = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{1,31}$/, 'lowercase letters, digits, - and _ (2–32 characters)');

export const DepartmentSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: Timestamp })
  .meta({ id: 'Department' });
export const NewDepartmentSchema = z.object({ id: DepartmentId, name: z.string().min(1).max(200) });

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

export const NewDeviceSchema = z.object({
  id: z
    .string()
    .regex(DEVICE_ID_PATTERN, 'lowercase letters, digits, _ . - (1–64 characters, starting with a letter or digit)')
    .optional()
    .describe('chosen by the server when absent'),
  name: z.string().min(1).max(200),
  department: DepartmentId.optional().describe("defaults to the API key's department"),
  type: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'lowercase letters, digits and _'),
  district: z.string().min(1).max(100).nullable().optional(),
  lat: z.number().min(-90).max(90).nullable().optional(),
  lon: z.number().min(-180).max(180).nullable().optional(),
});

export const CredentialsSchema = z
  .object({
    username: z.string(),
    password: z.string().describe('shown once; only its hash is stored'),
    clientId: z.string(),
    topics: z.object({ up: z.string(), status: z.string(), down: z.string(), ack: z.string() }),
  })
  .meta({ id: 'DeviceCredentials' });

export const CreatedDeviceSchema = z.object({ device: DeviceSchema, credentials: CredentialsSchema });

export const LatestSchema = z
  .object({
    device: z.string(),
    values: z.array(z.object({ quantity: z.string(), value: z.number(), unit: z.string(), time: Timestamp })),
  })
  .meta({ id: 'LatestValues' });

const TimeParam = z
  .union([z.iso.datetime({ offset: true }), z.string().regex(/^\d{10,14}$/, 'epoch milliseconds')])
  .transform((v) => (/^\d+$/.test(v) ? Number(v) : Date.parse(v)));

export const ReadingsQuerySchema = z.object({
  device: z.string().max(64).optional(),
  quantity: z.string().max(64).optional(),
  from: TimeParam.optional().describe('ISO 8601 or epoch ms; default 24 h before `to`'),
  to: TimeParam.optional().describe('ISO 8601 or epoch ms; default now'),
  limit: z.coerce.number().int().min(1).optional().describe('default 1000, at most the query budget'),
});

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

export const DeadLettersQuerySchema = z.object({
  device: z.string().max(64).optional(),
  reason: z.string().max(64).optional().describe('reason code, e.g. INGEST_MALFORMED_JSON'),
  before: z.coerce.number().int().positive().optional().describe('id cursor: entries older than this id'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  influx: z.object({ ok: z.boolean() }),
  registry: z.object({ ok: z.boolean(), kind: z.string() }),
});

export const QuantitySchema = z
  .object({
    name: z.string(),
    unit: z.string(),
    description: z.string(),
    aliases: z.array(z.string()),
    range: z.tuple([z.number(), z.number()]),
  })
  .meta({ id: 'Quantity' });

export const ScopeSchema = z.enum(SCOPES);
