import { z } from 'zod';
import { CreatedDeviceSchema, Timestamp } from '../common/api-contract.ts';
import {
  DepartmentId,
  DeviceId,
  DeviceTypeId,
  Duration,
  name,
  QuantityName,
  QueryTime,
  ReasonCode,
  RowId,
  tagValue,
} from '../common/grammar.ts';

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

export const AggregateQuerySchema = z.object({
  quantity: QuantityName,
  device: DeviceId.optional(),
  department: DepartmentId.optional(),
  district: tagValue().optional(),
  from: QueryTime.optional().describe('ISO 8601 or epoch ms; default 24 h before `to`'),
  to: QueryTime.optional().describe('ISO 8601 or epoch ms; default now'),
  every: Duration.describe('window length, required: an unbounded GROUP BY time is never run'),
  fn: z
    .enum(['mean', 'min', 'max', 'count', 'sum', 'median', 'p95'])
    .default('mean')
    .describe(
      'count, min, max, mean and sum are answered from the hourly or daily rollups when `every` is a whole number of hours or days; median and p95 always read raw readings',
    ),
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
    source: z
      .enum(['raw', '1h', '1d'])
      .describe(
        'the data that answered: raw readings, or the hourly (1h) or daily (1d) rollups — with raw readings for the edges and the time they do not reach yet; also in the Sus-Source header',
      ),
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

export const AirQualityReportQuerySchema = z.object({
  year: z.coerce.number().int().min(1970).max(9999).describe('calendar year (UTC)'),
  department: DepartmentId.optional(),
  district: tagValue().optional(),
  device: DeviceId.optional(),
  quantity: z
    .enum(['pm10', 'pm2_5', 'no2'])
    .optional()
    .describe('one pollutant (default: every pollutant with EU limit values)'),
  format: z.enum(['json', 'csv']).optional(),
});

const LimitResultSchema = z.object({
  standard: z.string(),
  applies: z.boolean().describe("whether the standard's limit values apply to the year"),
  period: z.enum(['hour', 'day', 'year']),
  value: z.number().describe('the limit value in the pollutant unit'),
  maxExceedances: z.number().int().nullable().describe('hours or days a year allowed above the value'),
  exceedances: z.number().int().nullable().describe('valid hours or days above the value; null for annual means'),
  verdict: z.enum(['met', 'exceeded', 'insufficient data']),
  source: z.string().describe('where the directive lays the value down'),
});

export const AirQualityReportSchema = z
  .object({
    year: z.number().int(),
    notice: z.string().describe('low-cost sensors give indicative measurements: what this report is and is not'),
    complete: z.boolean().describe('the year is over and the hourly rollups reach its end'),
    rollupsUntil: Timestamp.nullable(),
    validity: z.object({ hourMinSampleShare: z.number(), dayMinHours: z.number().int(), source: z.string() }),
    standards: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        url: z.string(),
        applies: z.boolean(),
        minDataCapture: z.number(),
        source: z.string(),
      }),
    ),
    stations: z.array(
      z.object({
        device: z.string(),
        name: z.string(),
        department: z.string(),
        district: z.string().nullable(),
        pollutants: z.array(
          z.object({
            quantity: z.string(),
            unit: z.string(),
            samplesPerHour: z.number(),
            minSamplesPerHour: z.number().int(),
            hoursInYear: z.number().int(),
            validHours: z.number().int(),
            dataCapture: z.number(),
            validDays: z.number().int(),
            annualMean: z.number().nullable(),
            limits: z.array(LimitResultSchema),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'AirQualityReport' });
