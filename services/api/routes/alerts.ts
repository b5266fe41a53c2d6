import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DepartmentId, DeviceId, IsoTime, QueryTime, RowId, RuleId, SilenceId, text } from '../../common/grammar.ts';
import { ALERT_STATES } from '../../registry/index.ts';
import { AlertHistorySchema, AlertSchema, DeliverySchema, SilenceSchema } from '../alert-schemas.ts';
import { actingDepartment, targetDepartment } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ProblemSchema } from '../schemas.ts';

const alertNotFound = (id: number) =>
  new SusError('SUS_ERR_ALERT_NOT_FOUND', `alert ${id} does not exist`, 404, { id });
const AlertParams = z.object({ id: RowId });

/** Alerts of the department's rules: list, history, acknowledgement, webhook deliveries; silences. */
export const alertRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const alerts = deps.registry.alerts;
    /** The alert when the key's department owns it (any for platform-wide keys); another's is reported as absent. */
    const visible = async (id: number, department: string | undefined) => {
      const alert = await alerts.get(id, department);
      if (!alert) throw alertNotFound(id);
      return alert;
    };

    app.get(
      '/v1/alerts',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: "Alerts of the department's rules, newest first",
          querystring: z.object({
            state: z.enum(ALERT_STATES).optional(),
            department: DepartmentId.optional(),
            rule: RuleId.optional(),
            device: DeviceId.optional(),
            since: QueryTime.optional().describe('changed at or after this time'),
            before: RowId.optional().describe('id cursor'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ alerts: z.array(AlertSchema), next: z.number().int().nullable() }) },
        },
      },
      async (req) => {
        const q = req.query;
        const own = actingDepartment(req);
        if (own !== undefined && q.department !== undefined && q.department !== own) return { alerts: [], next: null };
        const list = await alerts.list({
          department: own ?? q.department,
          ...(q.state === undefined ? {} : { state: q.state }),
          ...(q.rule === undefined ? {} : { rule: q.rule }),
          ...(q.device === undefined ? {} : { device: q.device }),
          ...(q.since === undefined ? {} : { since: new Date(q.since) }),
          ...(q.before === undefined ? {} : { before: q.before }),
          limit: q.limit,
        });
        return { alerts: list, next: list.length === q.limit ? list[list.length - 1]!.id : null };
      },
    );

    app.get(
      '/v1/alerts/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: 'One alert',
          params: AlertParams,
          response: { 200: AlertSchema, 404: ProblemSchema },
        },
      },
      async (req) => visible(req.params.id, actingDepartment(req)),
    );

    app.get(
      '/v1/alerts/:id/history',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: "An alert's state changes and acknowledgements, oldest first",
          params: AlertParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
          response: { 200: z.object({ history: z.array(AlertHistorySchema) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        await visible(req.params.id, actingDepartment(req));
        return { history: await alerts.history(req.params.id, req.query.limit) };
      },
    );

    app.post(
      '/v1/alerts/:id/ack',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Acknowledge an alert with a note (cleared when it fires again)',
          params: AlertParams,
          body: z.object({ note: text(2000).default('') }),
          response: { 200: AlertSchema, 404: ProblemSchema },
        },
      },
      async (req) => alerts.acknowledge(req.params.id, actingDepartment(req), req.principal?.id ?? null, req.body.note),
    );

    app.get(
      '/v1/alerts/:id/deliveries',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: "The alert's webhook delivery log (attempts, errors, dead letters)",
          params: AlertParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
          response: { 200: z.object({ deliveries: z.array(DeliverySchema) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        await visible(req.params.id, actingDepartment(req));
        return { deliveries: await alerts.deliveries(req.params.id, req.query.limit) };
      },
    );

    app.post(
      '/v1/deliveries/:id/resend',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Send an undeliverable (dead) webhook delivery again, with its original idempotency key',
          params: z.object({ id: RowId }),
          response: { 200: DeliverySchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const d = await alerts.resend(req.params.id, actingDepartment(req));
        if (!d)
          throw new SusError(
            'SUS_ERR_DELIVERY_NOT_FOUND',
            `delivery ${req.params.id} does not exist or is not a dead letter`,
            404,
            { id: req.params.id },
          );
        deps.alerts?.deliveriesQueued();
        return d;
      },
    );

    app.get(
      '/v1/silences',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: "The department's silences (active only unless all=true)",
          querystring: z.object({ all: z.enum(['true', 'false']).default('false') }),
          response: { 200: z.object({ silences: z.array(SilenceSchema) }) },
        },
      },
      async (req) => ({ silences: await alerts.silences(actingDepartment(req), req.query.all === 'false') }),
    );

    app.post(
      '/v1/silences',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'Hold back notifications of a rule, a device or the whole department until a time',
          body: z.object({
            department: DepartmentId.optional().describe("default: the key's department"),
            rule: RuleId.optional(),
            device: DeviceId.optional(),
            reason: text(2000).pipe(z.string().min(1)),
            endsAt: IsoTime,
          }),
          response: { 201: SilenceSchema, 400: ProblemSchema, 403: ProblemSchema },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const department = targetDepartment(req, b.department, 'department');
        if (Date.parse(b.endsAt) <= Date.now())
          throw new SusError('SUS_ERR_VALIDATION', 'endsAt must be in the future', 400, { field: 'endsAt' });
        if (!(await deps.registry.getDepartment(department)))
          throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${department}' does not exist`, 400, {
            field: 'department',
          });
        if (b.rule !== undefined && !(await deps.registry.rules.get(b.rule, department)))
          throw new SusError('SUS_ERR_RULE_NOT_FOUND', `rule '${b.rule}' does not exist`, 404, { field: 'rule' });
        const silence = await alerts.createSilence({
          department,
          rule: b.rule ?? null,
          device: b.device ?? null,
          reason: b.reason,
          endsAt: b.endsAt,
          createdBy: req.principal?.id ?? null,
        });
        return reply.code(201).send(silence);
      },
    );

    app.delete(
      '/v1/silences/:id',
      {
        config: { scope: 'write' },
        schema: {
          tags: ['alerts'],
          summary: 'End a silence now (it stays listed with all=true)',
          params: z.object({ id: SilenceId }),
          response: { 200: SilenceSchema, 404: ProblemSchema },
        },
      },
      async (req) => alerts.endSilence(req.params.id, actingDepartment(req)),
    );
  };
