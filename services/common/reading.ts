import { z } from 'zod';

/** One normalised reading: what ingest writes, what the API and the live stream hand out. */
export interface Reading {
  device: string;
  quantity: string;
  value: number;
  /** Canonical catalogue unit. */
  unit: string;
  /** Epoch milliseconds. */
  time: number;
}

/** Tags of a stored reading (DESIGN.md storage model). */
export interface ReadingTags {
  device: string;
  department: string;
  district: string;
  device_type: string;
  source: string;
}

export const MAX_BATCH_MESSAGES = 1000;
export const MAX_VALUES_PER_MESSAGE = 64;

/**
 * The canonical reading message of DESIGN.md. Values stay `unknown` here so that ingest can give each bad value
 * its own reason code (a string, a null, an infinity) instead of failing the whole message on a type error.
 */
export const CanonicalMessageSchema = z.looseObject({
  time: z.union([z.number(), z.string()]).optional(),
  seq: z.number().int().nonnegative().optional(),
  values: z
    .record(z.string().min(1).max(64), z.unknown())
    .refine((v) => Object.keys(v).length > 0, 'values must hold at least one quantity')
    .refine((v) => Object.keys(v).length <= MAX_VALUES_PER_MESSAGE, `at most ${MAX_VALUES_PER_MESSAGE} values`),
  units: z.record(z.string(), z.string().max(32)).optional(),
});

export const CanonicalBatchSchema = z.array(CanonicalMessageSchema).min(1).max(MAX_BATCH_MESSAGES);

export type CanonicalMessage = z.infer<typeof CanonicalMessageSchema>;
