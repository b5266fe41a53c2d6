import { z } from 'zod';
import type { Catalogue } from './catalogue.ts';
import { SusError } from './errors.ts';
import {
  DepartmentId,
  DeviceId,
  DeviceTypeId,
  Duration,
  durationS,
  name,
  QuantityName,
  RuleId,
  tagValue,
  text,
} from './grammar.ts';

/**
 * Alert rules (issue 14): what a department wants to be told about. One zod model for the API, the CLI and the
 * registry: a rule arrives in the full form or the simple form (`{"name","quantity","device","above":1.5,"notify"}`)
 * and is normalised once, here, into a {@link Rule} whose thresholds are in the quantity's canonical unit.
 */

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const RULE_KINDS = ['threshold', 'rate', 'silent', 'window'] as const;
/** Window rules: the aggregate over the window that is compared (from the hourly rollups plus the current hour). */
export const WINDOW_AGGREGATES = ['mean', 'min', 'max', 'sum', 'count'] as const;
export type WindowAggregate = (typeof WINDOW_AGGREGATES)[number];
/** Longest window of a window rule: its cost is one rollup point per device and hour. */
export const MAX_WINDOW_S = 31 * 86_400;
export type RuleKind = (typeof RULE_KINDS)[number];
/** Rate-of-change rules: thresholds are changes of the value per this period. */
export const RATE_PERIODS = { minute: 60_000, hour: 3_600_000 } as const;
export type RatePeriod = keyof typeof RATE_PERIODS;
const RATE_UNIT_SUFFIX: Record<RatePeriod, string> = { minute: '/min', hour: '/h' };
export const OPERATORS = ['above', 'below', 'outside', 'inside'] as const;
export type Operator = (typeof OPERATORS)[number];

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const band = z
  .tuple([finite, finite])
  .refine(([low, high]) => low < high, 'must be [low, high] with low < high')
  .describe('[low, high] in the rule unit');

/** Where a webhook goes; the secret signs every body (SUS-Signature) and is never shown again. */
export const WebhookTargetSchema = z.strictObject({
  type: z.literal('webhook'),
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .describe('http(s) URL the notification is POSTed to'),
  secret: name(200)
    .refine((v) => v.length >= 16, 'must be at least 16 characters')
    .describe('HMAC-SHA256 key of SUS-Signature (16 to 200 characters)'),
});
export type WebhookTarget = z.infer<typeof WebhookTargetSchema>;

export const EMAIL_LANGUAGES = ['en', 'de'] as const;
/** E-mail through the platform's SMTP server (SUS_SMTP_URL), in English or German. */
export const EmailTargetSchema = z.strictObject({
  type: z.literal('email'),
  to: z.array(z.email().max(254)).min(1).max(20).describe('recipients'),
  lang: z.enum(EMAIL_LANGUAGES).default('en').describe('language of the message: en or de'),
});
export type EmailTarget = z.infer<typeof EmailTargetSchema>;
const NotifyTargetSchema = z.discriminatedUnion('type', [WebhookTargetSchema, EmailTargetSchema]);
export type NotifyTarget = z.infer<typeof NotifyTargetSchema>;

/**
 * Where a delivery goes, as the registry's delivery log keeps it: a webhook's URL and secret, or an e-mail's
 * `mailto:` URI (RFC 6068, recipients comma-separated, the language as `lang`) with no secret.
 */
export function deliveryTarget(n: NotifyTarget): { url: string; secret: string } {
  if (n.type === 'webhook') return { url: n.url, secret: n.secret };
  return { url: `mailto:${n.to.map(encodeURIComponent).join(',')}?lang=${n.lang}`, secret: '' };
}

const ScopeSchema = z
  .strictObject({
    department: DepartmentId.optional().describe("whose devices; default: the rule's own department"),
    device: DeviceId.optional(),
    type: DeviceTypeId.optional(),
    district: tagValue().optional(),
  })
  .describe('which devices the rule watches: one device, a device type, a district, or the whole department');

const ConditionSchema = z.strictObject({
  op: z.enum(OPERATORS),
  value: finite.optional().describe('the threshold of above/below'),
  low: finite.optional().describe('lower bound of outside/inside'),
  high: finite.optional().describe('upper bound of outside/inside'),
});

/**
 * A rule as a client writes it. Full form: `kind`, `scope`, `condition`; simple form: `device`/`type`/
 * `district`/`department` instead of `scope`, `above`/`below`/`outside`/`inside` instead of `condition`.
 */
export const RuleInputSchema = z
  .strictObject({
    id: RuleId.optional().describe('chosen by the server when absent'),
    name: name(),
    kind: z.enum(RULE_KINDS).default('threshold'),
    owner: DepartmentId.optional().describe("the department the rule belongs to; default: the key's department"),
    quantity: QuantityName.optional().describe('a catalogue quantity (threshold rules)'),
    unit: name(32).optional().describe("unit of the thresholds; default: the quantity's canonical unit"),
    scope: ScopeSchema.optional(),
    device: DeviceId.optional(),
    type: DeviceTypeId.optional(),
    district: tagValue().optional(),
    department: DepartmentId.optional(),
    condition: ConditionSchema.optional(),
    above: finite.optional(),
    below: finite.optional(),
    outside: band.optional(),
    inside: band.optional(),
    window: Duration.optional().describe(
      'window rules: the trailing window the aggregate is taken over (e.g. 24h; at most 31d)',
    ),
    aggregate: z.enum(WINDOW_AGGREGATES).optional().describe('window rules: mean (default), min, max, sum or count'),
    per: z
      .enum(['minute', 'hour'])
      .optional()
      .describe('rate rules: the thresholds are changes of the value per minute or per hour'),
    hysteresis: z.number().min(0).max(1e12).default(0).describe('how far back a value must come to resolve'),
    for: Duration.optional().describe('how long the condition must hold before the alert fires (e.g. 5m)'),
    group: Duration.optional().describe(
      "group wait (e.g. 30s): a change's notification waits this long and takes every other device's change of the rule to the same state with it, as one message",
    ),
    silentFactor: z
      .number()
      .min(1)
      .max(1000)
      .optional()
      .describe("silent rules: silent after this many of the type's expected intervals (default SUS_SILENT_FACTOR)"),
    severity: z.enum(SEVERITIES).default('warning'),
    description: text(2000).default(''),
    runbook: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
    enabled: z.boolean().default(true),
    notify: z.array(NotifyTargetSchema).max(10).default([]),
  })
  .meta({ id: 'NewRule' });
export type RuleInput = z.input<typeof RuleInputSchema>;
export type ParsedRuleInput = z.output<typeof RuleInputSchema>;
type ParsedInput = ParsedRuleInput;

const RuleScopeSchema = z.object({
  department: z.string().describe('the department whose devices are watched (the own, or another through a grant)'),
  device: z.string().nullable(),
  type: z.string().nullable(),
  district: z.string().nullable(),
});
export type RuleScope = z.infer<typeof RuleScopeSchema>;

const RuleConditionSchema = z.object({
  op: z.enum(OPERATORS),
  value: z.number().nullable().describe('above/below, in the canonical unit'),
  low: z.number().nullable(),
  high: z.number().nullable(),
});
export type RuleCondition = z.infer<typeof RuleConditionSchema>;

/** A normalised rule: thresholds in the canonical unit, scope resolved, form independent. */
export const RuleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(RULE_KINDS),
    owner: z.string().describe('the department that owns the rule and sees its alerts'),
    quantity: z.string().nullable(),
    unit: z.string().nullable().describe("the quantity's canonical unit: what condition and hysteresis are in"),
    scope: RuleScopeSchema,
    condition: RuleConditionSchema.nullable(),
    hysteresis: z.number(),
    window: z
      .object({ seconds: z.number(), aggregate: z.enum(WINDOW_AGGREGATES) })
      .nullable()
      .describe('window rules: the trailing window and its aggregate; null for other kinds'),
    per: z
      .enum(['minute', 'hour'])
      .nullable()
      .describe('rate rules: condition and hysteresis are changes per minute or hour; null for other kinds'),
    forS: z.number(),
    groupS: z.number().describe('group wait in seconds; 0 sends each change alone at once'),
    silentFactor: z.number().nullable(),
    severity: z.enum(SEVERITIES),
    description: z.string(),
    runbook: z.string().nullable(),
    enabled: z.boolean(),
    notify: z.array(
      z.union([
        z.object({ type: z.literal('webhook'), url: z.string(), secret: z.string().describe('always ***') }),
        z.object({ type: z.literal('email'), to: z.array(z.string()), lang: z.enum(EMAIL_LANGUAGES) }),
      ]),
    ),
    grantId: z.string().nullable().describe("the grant a rule on another department's data goes through"),
  })
  .meta({ id: 'Rule' });
export type Rule = z.infer<typeof RuleSchema>;

const refused = (message: string, field: string) => new SusError('SUS_ERR_RULE_INVALID', message, 400, { field });

function conditionOf(b: ParsedInput): { op: Operator; value?: number; low?: number; high?: number } | undefined {
  const given: Array<[string, { op: Operator; value?: number; low?: number; high?: number }]> = [];
  if (b.condition) given.push(['condition', b.condition]);
  if (b.above !== undefined) given.push(['above', { op: 'above', value: b.above }]);
  if (b.below !== undefined) given.push(['below', { op: 'below', value: b.below }]);
  if (b.outside) given.push(['outside', { op: 'outside', low: b.outside[0], high: b.outside[1] }]);
  if (b.inside) given.push(['inside', { op: 'inside', low: b.inside[0], high: b.inside[1] }]);
  if (given.length > 1) throw refused(`give one condition, not ${given.map(([k]) => k).join(' and ')}`, given[1]![0]);
  return given[0]?.[1];
}

/** The scope's department when the input names one, else the named device's (looked up by the caller). */
export const scopeDevice = (b: ParsedInput): string | undefined => b.scope?.device ?? b.device;

function scopeOf(b: ParsedInput, owner: string, deviceDepartment: string | undefined): RuleScope {
  const short = { device: b.device, type: b.type, district: b.district, department: b.department };
  const shorthand = Object.entries(short).filter(([, v]) => v !== undefined);
  if (b.scope && shorthand.length > 0)
    throw refused(`give the scope either as 'scope' or as '${shorthand[0]![0]}', not both`, shorthand[0]![0]);
  const s = b.scope ?? short;
  return {
    department: s.department ?? deviceDepartment ?? owner,
    device: s.device ?? null,
    type: s.type ?? null,
    district: s.district ?? null,
  };
}

/**
 * The rule a client's input stands for, with thresholds converted to the quantity's canonical unit (a unit the
 * catalogue cannot convert is refused with the units it can). `owner` is the department the rule belongs to.
 */
export function normaliseRule(
  input: ParsedInput,
  owner: string,
  id: string,
  catalogue: Catalogue,
  deviceDepartment?: string,
): Rule {
  const scope = scopeOf(input, owner, deviceDepartment);
  const base = {
    id,
    name: input.name,
    kind: input.kind,
    owner,
    scope,
    forS: input.for === undefined ? 0 : durationS(input.for),
    groupS: input.group === undefined ? 0 : durationS(input.group),
    severity: input.severity,
    description: input.description,
    runbook: input.runbook ?? null,
    enabled: input.enabled,
    notify: input.notify,
    grantId: null,
  };
  const condition = conditionOf(input);
  if (input.kind === 'silent') {
    if (condition) throw refused('a silent-device rule takes no threshold', 'condition');
    return {
      ...base,
      quantity: null,
      unit: null,
      condition: null,
      hysteresis: 0,
      per: null,
      window: null,
      silentFactor: input.silentFactor ?? null,
    };
  }
  if (input.silentFactor !== undefined) throw refused('silentFactor belongs to silent-device rules', 'silentFactor');
  const rate = input.kind === 'rate';
  const isWindow = input.kind === 'window';
  if (isWindow !== (input.window !== undefined))
    throw refused(
      isWindow ? 'a window rule names its window (e.g. 24h)' : "'window' belongs to window rules",
      'window',
    );
  if (!isWindow && input.aggregate !== undefined) throw refused("'aggregate' belongs to window rules", 'aggregate');
  if (isWindow && durationS(input.window!) > MAX_WINDOW_S)
    throw refused(`a window rule's window is at most 31d`, 'window');
  // A count is a number of readings: the quantity's unit does not apply to it.
  const counting = isWindow && input.aggregate === 'count';
  if (rate !== (input.per !== undefined))
    throw refused(rate ? "a rate rule names its period: per 'minute' or 'hour'" : "'per' belongs to rate rules", 'per');
  if (input.quantity === undefined) throw refused('a threshold rule names its quantity', 'quantity');
  const q = catalogue.get(input.quantity);
  if (!q)
    throw new SusError('SUS_ERR_UNKNOWN_QUANTITY', `'${input.quantity}' is not in the catalogue`, 400, {
      field: 'quantity',
    });
  if (!condition) throw refused('a threshold rule needs above, below, outside, inside or condition', 'condition');
  const { op } = condition;
  const single = op === 'above' || op === 'below';
  if (single ? condition.value === undefined : condition.low === undefined || condition.high === undefined)
    throw refused(
      single ? `'${op}' needs condition.value` : `'${op}' needs condition.low and condition.high`,
      'condition',
    );
  if (!single && condition.low! >= condition.high!)
    throw refused('condition.low must be below condition.high', 'condition');
  const convert = (v: number | undefined, field: string): number | null => {
    if (v === undefined) return null;
    const r = catalogue.toCanonical(q, v, input.unit);
    if (!r.ok) {
      const units = [q.unit, ...Object.keys(q.conversions)].join(', ');
      throw new SusError(
        'SUS_ERR_RULE_UNIT',
        `${q.name} thresholds cannot be given in '${input.unit}': the catalogue converts ${units} only`,
        400,
        { field: 'unit', [field]: v },
      );
    }
    return r.value;
  };
  // A hysteresis (and a rate's every threshold) is a difference of two values: the conversion's scale applies, its
  // offset (°F → °C) does not.
  const zero = convert(0, 'hysteresis') ?? 0;
  const hysteresis = Math.abs((convert(input.hysteresis, 'hysteresis') ?? 0) - zero);
  const threshold = (v: number | undefined, field: string): number | null => {
    if (counting) return v ?? null;
    const c = convert(v, field);
    return c === null || !rate ? c : c - zero;
  };
  return {
    ...base,
    quantity: q.name,
    unit: q.unit,
    condition: {
      op,
      value: threshold(condition.value, 'value'),
      low: threshold(condition.low, 'low'),
      high: threshold(condition.high, 'high'),
    },
    hysteresis,
    per: input.per ?? null,
    window: isWindow ? { seconds: durationS(input.window!), aggregate: input.aggregate ?? 'mean' } : null,
    silentFactor: null,
  };
}

/** The unit of an alert's value: the quantity's, per minute or hour for rate rules, seconds of silence. */
export function noticeUnit(r: Rule): string | null {
  if (r.kind === 'silent') return 's';
  if (r.window?.aggregate === 'count') return null;
  return r.per === null || r.unit === null ? r.unit : `${r.unit}${RATE_UNIT_SUFFIX[r.per]}`;
}

/** A rule as the API shows it: webhook secrets are write-only. */
export function publicRule(r: Rule) {
  return { ...r, notify: r.notify.map((n) => (n.type === 'webhook' ? { ...n, secret: '***' } : n)) };
}

/**
 * What a notification says about an alert's state change: the webhook body, the stream's `event: alert` and the
 * `sus_alert` point are all made from it. A schema too: in a cluster notices travel between nodes (Redis).
 */
export const AlertNoticeSchema = z.object({
  alert: z.number(),
  rule: z.object({ id: z.string(), name: z.string(), kind: z.enum(RULE_KINDS), severity: z.enum(SEVERITIES) }),
  state: z.enum(['pending', 'firing', 'resolved']),
  department: z.string(),
  device: z.string(),
  quantity: z.string().nullable(),
  value: z.number().nullable(),
  unit: z.string().nullable(),
  threshold: RuleConditionSchema.nullable(),
  hysteresis: z.number(),
  /** When the state changed (ISO 8601). */
  time: z.string(),
  link: z.string(),
  description: z.string(),
  runbook: z.string().nullable(),
});
export type AlertNotice = z.infer<typeof AlertNoticeSchema>;

/** The body of a grouped notification: every change of one rule to one state within its group wait. */
export interface AlertGroupNotice {
  group: { rule: AlertNotice['rule']; state: AlertNotice['state']; count: number };
  alerts: AlertNotice[];
}
