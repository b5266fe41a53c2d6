import { z } from 'zod';
import { SEVERITIES } from '../common/rules.ts';
import { ALERT_STATES } from '../registry/index.ts';
import { Timestamp } from './schemas.ts';

/** API shapes of alerts, their history and deliveries, silences and the stream's `event: alert`. */
export const AlertSchema = z
  .object({
    id: z.number().int(),
    rule: z.string(),
    device: z.string(),
    department: z.string().describe('the department that owns the rule'),
    state: z.enum(ALERT_STATES),
    episode: z.number().int().describe('how often this rule × device started again after a resolution'),
    value: z.number().nullable().describe('the value of the latest change, in the canonical unit'),
    since: Timestamp,
    firedAt: Timestamp.nullable(),
    resolvedAt: Timestamp.nullable(),
    ackedAt: Timestamp.nullable(),
    ackedBy: z.string().nullable(),
    ackNote: z.string().nullable(),
    updatedAt: Timestamp,
  })
  .meta({ id: 'Alert' });

export const AlertHistorySchema = z.object({
  at: Timestamp,
  state: z.string().describe('pending, firing, resolved or acknowledged'),
  value: z.number().nullable(),
  note: z.string().nullable(),
});

export const DeliverySchema = z
  .object({
    id: z.number().int(),
    alert: z.number().int(),
    idempotencyKey: z.string(),
    url: z.string(),
    state: z.enum(['pending', 'delivered', 'dead']).describe('dead: undeliverable after every attempt; can be re-sent'),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    createdAt: Timestamp,
    nextAttemptAt: Timestamp,
    deliveredAt: Timestamp.nullable(),
  })
  .meta({ id: 'Delivery' });

export const SilenceSchema = z
  .object({
    id: z.string(),
    department: z.string(),
    rule: z.string().nullable(),
    device: z.string().nullable(),
    reason: z.string(),
    endsAt: Timestamp,
    createdBy: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Silence' });

export const SeveritySchema = z.enum(SEVERITIES);
