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
export const RULE_KINDS = ['threshold', 'silent'] as const;
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
    hysteresis: z.number().min(0).max(1e12).default(0).describe('how far back a value must come to resolve'),
    for: Duration.optional().describe('how long the condition must hold before the alert fires (e.g. 5m)'),
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
    notify: z.array(WebhookTargetSchema).max(10).default([]),
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
    forS: z.number(),
    silentFactor: z.number().nullable(),
    severity: z.enum(SEVERITIES),
    description: z.string(),
    runbook: z.string().nullable(),
    enabled: z.boolean(),
    notify: z.array(
      z.object({ type: z.literal('webhook'), url: z.string(), secret: z.string().describe('always ***') }),
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
      silentFactor: input.silentFactor ?? null,
    };
  }
  if (input.silentFactor !== undefined) throw refused('silentFactor belongs to silent-device rules', 'silentFactor');
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
  // A hysteresis is a difference of two values: the conversion's scale applies, its offset (°F → °C) does not.
  const zero = convert(0, 'hysteresis') ?? 0;
  const hysteresis = Math.abs((convert(input.hysteresis, 'hysteresis') ?? 0) - zero);
  return {
    ...base,
    quantity: q.name,
    unit: q.unit,
    condition: {
      op,
      value: convert(condition.value, 'value'),
      low: convert(condition.low, 'low'),
      high: convert(condition.high, 'high'),
    },
    hysteresis,
    silentFactor: null,
  };
}

/** A rule as the API shows it: webhook secrets are write-only. */
export function publicRule(r: Rule) {
  return { ...r, notify: r.notify.map((n) => ({ type: n.type, url: n.url, secret: '***' })) };
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
