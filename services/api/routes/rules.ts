import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, RuleId } from '../../common/grammar.ts';
import {
  normaliseRule,
  type ParsedRuleInput,
  publicRule,
  type Rule,
  RuleInputSchema,
  RuleSchema,
  scopeDevice,
} from '../../common/rules.ts';
import { newRuleId } from '../../registry/index.ts';
import { resolveRead } from '../access.ts';
import { actingDepartment, targetDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';

/**
 * The rule a request may keep: owned by the key's department (a platform-wide key names `owner`); on another
 * department's data only through a grant that covers it, found and audited by the same path as every shared read.
 */
async function ruleOf(deps: ApiDeps, req: FastifyRequest, body: ParsedRuleInput, id: string): Promise<Rule> {
  const owner = targetDepartment(req, body.owner, 'owner');
  if (!(await deps.registry.getDepartment(owner)))
    throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${owner}' does not exist`, 400, { field: 'owner' });
  const deviceId = scopeDevice(body);
  const device = deviceId === undefined ? undefined : await deps.registry.getDevice(deviceId);
  const rule = normaliseRule(body, owner, id, deps.catalogue, device?.department);
  for (const [i, n] of rule.notify.entries()) {
    if (n.type !== 'webhook') continue;
    const refusal = deps.outbound.refusalOf(new URL(n.url));
    if (refusal)
      throw new SusError('SUS_ERR_WEBHOOK_ADDRESS', `webhook ${n.url}: ${refusal}`, 400, { field: `notify.${i}.url` });
  }
  const s = rule.scope;
  if (s.department !== owner && !(await deps.registry.getDepartment(s.department)))
    throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${s.department}' does not exist`, 400, {
      field: 'scope.department',
    });
  // Own data needs no grant; another department's needs one for this quantity, device and district (raw values).
  const read = await resolveRead(
    deps,
    req,
    {
      department: s.department,
      ...(s.device === null ? {} : { device: s.device }),
      ...(s.district === null ? {} : { district: s.district }),
      ...(rule.quantity === null ? {} : { quantities: [rule.quantity] }),
    },
    { reader: owner },
  );
  return { ...rule, grantId: read.grant?.id ?? null };
}

const RuleParams = z.object({ id: RuleId });

export const ruleRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/rules',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: "The department's alert rules (every department's for platform-wide keys); secrets are never shown",
          querystring: z.object({ department: DepartmentId.optional() }),
          response: { 200: z.object({ rules: z.array(RuleSchema) }) },
        },
      },
      async (req) => {
        const own = actingDepartment(req);
        if (own !== undefined && req.query.department !== undefined && req.query.department !== own)
          return { rules: [] };
        return { rules: (await deps.registry.rules.list(own ?? req.query.department)).map(publicRule) };
      },
    );

    app.post(
      '/v1/rules',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Create an alert rule (full form, or the simple form {name, quantity, device, above, notify})',
          body: RuleInputSchema,
          response: { 201: RuleSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        const rule = await ruleOf(deps, req, req.body, req.body.id ?? newRuleId());
        const created = await deps.registry.rules.create(rule, req.principal?.id ?? null);
        return reply.code(201).send(publicRule(created));
      },
    );

    app.get(
      '/v1/rules/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: 'One alert rule',
          params: RuleParams,
          response: { 200: RuleSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const rule = await deps.registry.rules.get(req.params.id, actingDepartment(req));
        if (!rule) throw new SusError('SUS_ERR_RULE_NOT_FOUND', `rule '${req.params.id}' does not exist`, 404);
        return publicRule(rule);
      },
    );

    app.put(
      '/v1/rules/:id',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Replace an alert rule (its alerts stay; webhook secrets must be given again)',
          params: RuleParams,
          body: RuleInputSchema,
          response: { 200: RuleSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const own = actingDepartment(req);
        const existing = await deps.registry.rules.get(req.params.id, own);
        if (!existing) throw new SusError('SUS_ERR_RULE_NOT_FOUND', `rule '${req.params.id}' does not exist`, 404);
        if (req.body.owner !== undefined && req.body.owner !== existing.owner)
          throw new SusError('SUS_ERR_VALIDATION', 'a rule keeps its owner', 400, { field: 'owner' });
        const rule = await ruleOf(deps, req, { ...req.body, owner: existing.owner }, existing.id);
        return publicRule(await deps.registry.rules.replace(rule, own));
      },
    );

    app.delete(
      '/v1/rules/:id',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Delete an alert rule with its alerts',
          params: RuleParams,
          response: { 204: z.null(), 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        await deps.registry.rules.remove(req.params.id, actingDepartment(req));
        return reply.code(204).send(null);
      },
    );
  };
