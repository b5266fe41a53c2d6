/**
 * `sus rules …`: a department's alert rules, against a running platform's API (the same validation, unit
 * conversion, grants and audit as every other client).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import { RuleSchema } from '../common/rules.ts';
import { type ApiTarget, apiTarget, call } from './api-client.ts';
import { API_CLIENT_OPTIONS, subcommandArgs } from './subcommand-args.ts';

export const RULES_HELP = `  rules list [--department D] [--json]
                     the alert rules the key sees
  rules add --file rule.json | --name N --quantity Q (--device ID | --type T | --district D | --department D)
            (--above X | --below X) [--unit U] [--for 5m] [--severity S] [--webhook URL --secret S] [--owner D]
                     create a rule (the file holds the full or the simple form of POST /v1/rules)
  rules rm ID        delete a rule and its alerts`;

const RuleListSchema = z.object({ rules: z.array(RuleSchema) });

export async function listRules(api: ApiTarget, department?: string) {
  const query = department === undefined ? '' : `?department=${encodeURIComponent(department)}`;
  return (await call(api, 'GET', `/v1/rules${query}`, RuleListSchema)).rules;
}

export const addRule = (api: ApiTarget, body: Record<string, unknown>) =>
  call(api, 'POST', '/v1/rules', RuleSchema, body);

export const removeRule = (api: ApiTarget, id: string) =>
  call(api, 'DELETE', `/v1/rules/${encodeURIComponent(id)}`, z.unknown());

const usage = (message: string) => new SusError('SUS_ERR_USAGE', `${message}\nusage:\n${RULES_HELP}`, 400);

/** The body of `rules add` from its flags (the API checks it; only the numbers are parsed here). */
export function ruleFromFlags(v: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const text = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const num = (k: string) => {
    const s = text(k);
    if (s === undefined) return undefined;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw usage(`--${k} must be a number`);
    return n;
  };
  if (!text('name')) throw usage('--name is required (or --file)');
  const webhook = text('webhook');
  if ((webhook === undefined) !== (text('secret') === undefined)) throw usage('--webhook and --secret go together');
  const body: Record<string, unknown> = {
    name: text('name'),
    quantity: text('quantity'),
    unit: text('unit'),
    device: text('device'),
    type: text('type'),
    district: text('district'),
    department: text('department'),
    owner: text('owner'),
    above: num('above'),
    below: num('below'),
    hysteresis: num('hysteresis'),
    for: text('for'),
    severity: text('severity'),
    notify: webhook === undefined ? undefined : [{ type: 'webhook', url: webhook, secret: text('secret') }],
  };
  return Object.fromEntries(Object.entries(body).filter(([, x]) => x !== undefined));
}

export async function rulesCommand(config: Config, args: string[], out: (s: string) => void): Promise<number> {
  const { sub, values, positionals } = subcommandArgs(
    args,
    {
      ...API_CLIENT_OPTIONS,
      name: { type: 'string' },
      quantity: { type: 'string' },
      unit: { type: 'string' },
      device: { type: 'string' },
      type: { type: 'string' },
      district: { type: 'string' },
      department: { type: 'string' },
      owner: { type: 'string' },
      above: { type: 'string' },
      below: { type: 'string' },
      hysteresis: { type: 'string' },
      for: { type: 'string' },
      severity: { type: 'string' },
      webhook: { type: 'string' },
      secret: { type: 'string' },
      file: { type: 'string' },
    },
    RULES_HELP,
  );
  const api = apiTarget(config, values.api, values.key);
  switch (sub) {
    case 'list': {
      const rules = await listRules(api, values.department);
      if (values.json) out(`${JSON.stringify(rules)}\n`);
      else
        for (const r of rules) {
          const c = r.condition;
          const cond = c === null ? 'silent' : `${c.op} ${c.value ?? `${c.low}…${c.high}`} ${r.unit ?? ''}`.trim();
          const where = r.scope.device ?? r.scope.type ?? r.scope.district ?? r.scope.department;
          out(`${r.id}\t${r.owner}\t${r.name}\t${r.quantity ?? '-'} ${cond}\t${where}\t${r.severity}\n`);
        }
      return 0;
    }
    case 'add': {
      const file = values.file;
      let body: Record<string, unknown>;
      if (file !== undefined) {
        try {
          body = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        } catch (err) {
          throw usage(`cannot read ${file}: ${(err as Error).message}`);
        }
      } else body = ruleFromFlags(values);
      const rule = await addRule(api, body);
      out(values.json ? `${JSON.stringify(rule)}\n` : `${rule.id} created (${rule.owner})\n`);
      return 0;
    }
    case 'rm': {
      if (positionals.length !== 1) throw usage('sus rules rm needs the rule id (see sus rules list)');
      await removeRule(api, positionals[0]!);
      out(`${positionals[0]} deleted\n`);
      return 0;
    }
    default:
      out(`usage:\n${RULES_HELP}\n`);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}
