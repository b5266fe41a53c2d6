import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Catalogue } from '../../common/catalogue.ts';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, RuleId } from '../../common/grammar.ts';
import { normaliseRule, type Rule, RuleInputSchema } from '../../common/rules.ts';

/**
 * Rules kept as code: SUS_RULES_FILE holds a JSON array of rules in the API's full or simple form, each with its
 * `id` and `owner`. At start the file's rules replace the ones an earlier start took from it (a rule gone from the
 * file is deleted; one made through the API is never touched). Rules on another department's data go through the
 * API, where the grant is checked and audited.
 */
export const RulesFileSchema = z
  .array(RuleInputSchema.safeExtend({ id: RuleId, owner: DepartmentId }))
  .max(10_000)
  .refine((list) => new Set(list.map((r) => r.id)).size === list.length, 'rule ids must be unique');

const invalid = (file: string, problems: string) =>
  new SusError('SUS_ERR_CONFIG', `invalid SUS_RULES_FILE ${file}:\n${problems}`, 500);

export function loadRulesFile(file: string, catalogue: Catalogue): Rule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SusError('SUS_ERR_CONFIG', `cannot read SUS_RULES_FILE ${file}: ${(err as Error).message}`, 500);
  }
  const parsed = RulesFileSchema.safeParse(raw);
  if (!parsed.success)
    throw invalid(file, parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  const problems: string[] = [];
  const rules: Rule[] = [];
  for (const [i, input] of parsed.data.entries()) {
    try {
      const rule = normaliseRule(input, input.owner, input.id, catalogue);
      if (rule.scope.department !== rule.owner)
        throw new SusError('SUS_ERR_RULE_INVALID', "a rule on another department's data is made through the API", 400, {
          field: 'department',
        });
      rules.push(rule);
    } catch (err) {
      const field = err instanceof SusError && typeof err.context.field === 'string' ? `.${err.context.field}` : '';
      problems.push(`  - ${i}${field}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw invalid(file, problems.join('\n'));
  return rules;
}
