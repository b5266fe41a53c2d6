import { z } from 'zod';

/** Every setting of the platform, read from environment variables. The README's configuration table mirrors it. */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const ConfigSchema = z
  .object({
    SUS_HTTP_HOST: z.string().default('0.0.0.0'),
    SUS_HTTP_PORT: port(8080),
    SUS_MQTT_HOST: z.string().default('0.0.0.0'),
    SUS_MQTT_PORT: port(1883),
    SUS_DATA_DIR: z.string().min(1).default('./var'),
    SUS_ADMIN_KEY: optionalText.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
    SUS_INFLUX_PORT: port(8086),
    INFLUX_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
    INFLUX_DB: z.string().min(1).default('sus'),
    INFLUX_ORG: z.string().default(''),
    INFLUX_TOKEN: optionalText,
    INFLUX_USERNAME: optionalText,
    INFLUX_PASSWORD: optionalText,
    INFLUX_API: z.enum(['v2', 'v1']).default('v2'),
    INFLUX_TIMEOUT_MS: positiveInt(10_000),
    DATABASE_URL: optionalText.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SUS_WRITE_BATCH_SIZE: positiveInt(5000),
    SUS_WRITE_FLUSH_MS: positiveInt(1000),
    SUS_MAX_PAYLOAD_BYTES: positiveInt(256 * 1024),
    SUS_MAX_AGE_S: positiveInt(7 * 24 * 3600),
    SUS_MAX_SKEW_S: positiveInt(300),
    SUS_DEAD_LETTER_RAW_BYTES: positiveInt(16 * 1024),
    SUS_QUERY_MAX_POINTS: positiveInt(10_000),
    SUS_DEMO_DEVICES: positiveInt(48),
    SUS_DEMO_INTERVAL_MS: positiveInt(5000),
  })
  .transform((c) => ({
    ...c,
    // The local stack serves InfluxDB on SUS_INFLUX_PORT; an explicit INFLUX_URL always wins.
    INFLUX_URL: c.INFLUX_URL ?? `http://127.0.0.1:${c.SUS_INFLUX_PORT}`,
  }));

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  readonly code = 'SUS_ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates the whole environment at once so an operator sees every problem in one go. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // A blank variable (`SUS_HTTP_PORT=` in an env file) means "unset": it takes the default, never 0 or "".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = ConfigSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(environment)';
    return `${key}: ${issue.message} (got ${JSON.stringify(env[key] ?? null)})`;
  });
  throw new ConfigError(problems);
}
