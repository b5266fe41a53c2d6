import { z } from 'zod';
import { CreatedDeviceSchema, Timestamp } from '../common/api-contract.ts';
import {
  ClaimCode,
  DepartmentId,
  DeviceId,
  DeviceTypeId,
  Duration,
  IsoTime,
  JsonObject,
  name,
  QuantityName,
  QueryTime,
  ReasonCode,
  RowId,
  tagValue,
  text,
} from '../common/grammar.ts';
import { SCOPES } from '../registry/index.ts';

// The shapes the API's clients read too live in services/common, one copy for server and clients.
export * from '../common/api-contract.ts';
export { BundleSchema, CredentialsSchema } from '../common/provisioning.ts';

/** API shapes: request validation, response serialisation and the OpenAPI document all come from these. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('stable machine-readable error code, e.g. SUS_ERR_VALIDATION'),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string(), line: z.number().int().optional() })).optional(),
  })
  .loose()
  .meta({ id: 'Problem' });

export const DepartmentSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: Timestamp })
  .meta({ id: 'Department' });
export const NewDepartmentSchema = z.object({ id: DepartmentId, name: name() });

export const NewDeviceSchema = z.object({
  id: DeviceId.optional().describe('chosen by the server when absent'),
  name: name(),
  department: DepartmentId.optional().describe("defaults to the API key's department"),
  type: DeviceTypeId,
  district: tagValue().nullable().optional(),
  lat: z.number().min(-90).max(90).nullable().optional(),
  lon: z.number().min(-180).max(180).nullable().optional(),
});

export const LatestSchema = z
  .object({
    device: z.string(),
    values: z.array(z.object({ quantity: z.string(), value: z.number(), unit: z.string(), time: Timestamp })),
  })
  .meta({ id: 'LatestValues' });

export const ReadingsQuerySchema = z.object({
  device: DeviceId.optional(),
  quantity: QuantityName.optional(),
  from: QueryTime.optional().describe('ISO 8601 or epoch ms; default 24 h before `to`'),
  to: QueryTime.optional().describe('ISO 8601 or epoch ms; default now'),
  limit: z.coerce.number().int().min(1).optional().describe('default 1000, at most the query budget'),
  department: DepartmentId.optional().describe("another department's data, through a grant"),
  format: z.enum(['json', 'csv']).optional(),
});

export const DeadLettersQuerySchema = z.object({
  device: DeviceId.optional(),
  reason: ReasonCode.optional().describe('reason code, e.g. INGEST_MALFORMED_JSON'),
  before: RowId.optional().describe('id cursor: entries older than this id'),
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

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    department: z.string().nullable().describe('null: a platform-wide key'),
    scopes: z.array(ScopeSchema),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const NewApiKeySchema = z.object({
  name: name(100),
  department: DepartmentId.nullable().optional().describe("defaults to the creating key's department"),
  scopes: z.array(ScopeSchema).min(1),
});

export const CreatedApiKeySchema = z.object({
  key: z.string().describe('the secret: shown once, stored only as a hash'),
  record: ApiKeySchema,
});

export const DeviceTypeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    quantities: z.array(z.string()),
    expectedIntervalS: z.number().int(),
    profile: z.record(z.string(), z.unknown()),
    createdAt: Timestamp,
  })
  .meta({ id: 'DeviceType' });

export const NewDeviceTypeSchema = z.object({
  id: DeviceTypeId,
  name: name(),
  description: text().default(''),
  quantities: z.array(QuantityName).max(64).default([]),
  expectedIntervalS: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(300),
  profile: JsonObject.default({}),
});

export const DevicePatchSchema = z
  .object({
    name: name(),
    type: DeviceTypeId,
    district: tagValue().nullable(),
    lat: z.number().min(-90).max(90).nullable(),
    lon: z.number().min(-180).max(180).nullable(),
  })
  .partial();

export const SilentDeviceSchema = z.object({
  device: z.string(),
  department: z.string(),
  type: z.string(),
  lastSeenAt: Timestamp.nullable(),
  silentForS: z.number().int().nullable().describe('null: never seen'),
  expectedIntervalS: z.number().int(),
});

export const ImportResultSchema = z.object({
  imported: z.number().int(),
  devices: z.array(CreatedDeviceSchema),
});

export const NewClaimSchema = z.object({
  department: DepartmentId.optional().describe("defaults to the key's department"),
  type: DeviceTypeId,
  name: name().optional(),
  district: tagValue().optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  ttlS: z
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .optional()
    .describe('default SUS_CLAIM_TTL_S'),
});

export const ClaimRequestSchema = z.object({
  code: ClaimCode,
  id: DeviceId.optional().describe('device id wanted (e.g. derived from the MAC); chosen by the server when absent'),
  name: name().optional(),
});

/** Comma-separated quantities, each one checked against the grammar. */
const QuantityList = z
  .string()
  .max(2000)
  .transform((s) => s.split(',').filter((x) => x.length > 0))
  .pipe(z.array(QuantityName));

export const LatestQuerySchema = z.object({
  department: DepartmentId.optional(),
  quantity: QuantityList.optional().describe('comma-separated quantities; default all'),
  district: tagValue().optional(),
  device: DeviceId.optional(),
  bbox: z
    .string()
    .regex(/^-?[\d.]+,-?[\d.]+,-?[\d.]+,-?[\d.]+$/, 'minLon,minLat,maxLon,maxLat')
    .transform((s) => s.split(',').map(Number) as [number, number, number, number])
    .optional(),
  format: z.enum(['json', 'csv', 'geojson']).optional(),
});

export const LatestDeviceSchema = z
  .object({
    device: z.string(),
    department: z.string(),
    type: z.string(),
    district: z.string().nullable(),
    lat: z.number().nullable(),
    lon: z.number().nullable(),
    values: z.array(z.object({ quantity: z.string(), value: z.number(), unit: z.string(), time: Timestamp })),
  })
  .meta({ id: 'LatestDevice' });

export const GeoJsonSchema = z
  .object({
    type: z.literal('FeatureCollection'),
    features: z.array(
      z.object({
        type: z.literal('Feature'),
        geometry: z.object({ type: z.literal('Point'), coordinates: z.tuple([z.number(), z.number()]) }),
        properties: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .meta({ id: 'GeoJSON' });

export const GrantSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    grantee: z.string().describe("a department id or 'public'"),
    title: z.string(),
    purpose: z.string(),
    licence: z.string().nullable(),
    quantities: z.array(z.string()),
    deviceTypes: z.array(z.string()).nullable(),
    districts: z.array(z.string()).nullable(),
    from: Timestamp.nullable(),
    to: Timestamp.nullable(),
    aggregationFloorS: z.number().int().nullable(),
    updateIntervalS: z.number().int().nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Grant' });

export const NewGrantSchema = z.object({
  owner: DepartmentId.optional().describe("defaults to the key's department"),
  grantee: z.union([DepartmentId, z.literal('public')]),
  title: name(),
  purpose: text().min(1),
  licence: name().nullable().default(null),
  quantities: z.array(QuantityName).min(1).max(64),
  deviceTypes: z.array(DeviceTypeId).min(1).max(64).nullable().default(null),
  districts: z.array(tagValue()).min(1).max(256).nullable().default(null),
  from: IsoTime.nullable().default(null),
  to: IsoTime.nullable().default(null),
  aggregationFloorS: z.number().int().min(1).nullable().default(null).describe('e.g. 3600: hourly aggregates only'),
  updateIntervalS: z.number().int().min(1).nullable().default(null),
  expiresAt: IsoTime,
});

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    grantId: z.string(),
    owner: z.string(),
    reader: z.string().nullable().describe('null: anonymous open-data read'),
    keyId: z.string().nullable(),
    route: z.string(),
    query: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });

export const AggregateQuerySchema = z.object({
  quantity: QuantityName,
  device: DeviceId.optional(),
  department: DepartmentId.optional(),
  district: tagValue().optional(),
  from: QueryTime.optional().describe('ISO 8601 or epoch ms; default 24 h before `to`'),
  to: QueryTime.optional().describe('ISO 8601 or epoch ms; default now'),
  every: Duration.describe('window length, required: an unbounded GROUP BY time is never run'),
  fn: z.enum(['mean', 'min', 'max', 'count', 'median', 'p95']).default('mean'),
  groupBy: z.enum(['device', 'district', 'department']).optional(),
  format: z.enum(['json', 'csv']).optional(),
});

export const AggregateSchema = z
  .object({
    quantity: z.string(),
    unit: z.string(),
    fn: z.string(),
    every: z.string(),
    from: Timestamp,
    to: Timestamp,
    series: z.array(
      z.object({
        group: z.record(z.string(), z.string()),
        points: z.array(z.object({ time: Timestamp, value: z.number() })),
      }),
    ),
  })
  .meta({ id: 'Aggregate' });

export const DatasetSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    owner: z.string(),
    licence: z.string().nullable(),
    purpose: z.string(),
    quantities: z.array(z.string()),
    updateIntervalS: z.number().int().nullable(),
    aggregationFloorS: z.number().int().nullable(),
    expiresAt: Timestamp,
  })
  .meta({ id: 'Dataset' });
