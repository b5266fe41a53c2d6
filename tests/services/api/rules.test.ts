import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

const hook = { type: 'webhook', url: 'https://hooks.example/hook', secret: 'a-secret-of-sixteen+' };

describe('/v1/rules: the rule model, its forms, unit conversion, ownership and grants', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const [id, department, type] of [
      ['river-1', 'environment', 'water_gauge'],
      ['park-aq', 'parks', 'air_quality'],
      ['traffic-aq', 'traffic', 'air_quality'],
    ] as const)
      await h.admin('POST', '/v1/devices', { id, name: id, department, type, district: 'Nord' });
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const grant = await h.admin('POST', '/v1/grants', {
      owner: 'parks',
      grantee: 'environment',
      title: 't',
      purpose: 'p',
      quantities: ['pm10'],
      expiresAt,
    });
    expect(grant.status).toBe(201);
  });
  afterAll(async () => h?.stop());

  it('takes the simple form and stores the normalised rule (threshold converted from cm; secret never shown)', async () => {
    const api = await h.as('environment', ['write']);
    const res = await api('POST', '/v1/rules', {
      id: 'river-high',
      name: 'River high',
      quantity: 'water_level',
      unit: 'cm',
      device: 'river-1',
      above: 150,
      hysteresis: 10,
      notify: [hook],
    });
    expect(res.status).toBe(201);
    expect(res.body).toStrictEqual({
      id: 'river-high',
      name: 'River high',
      kind: 'threshold',
      owner: 'environment',
      quantity: 'water_level',
      unit: 'm',
      scope: { department: 'environment', device: 'river-1', type: null, district: null },
      condition: { op: 'above', value: 1.5, low: null, high: null },
      hysteresis: 0.1,
      forS: 0,
      window: null,
      per: null,
      groupS: 0,
      silentFactor: null,
      severity: 'warning',
      description: '',
      runbook: null,
      enabled: true,
      notify: [{ type: 'webhook', url: hook.url, secret: '***' }],
      grantId: null,
    });
    const read = await (await h.as('environment', ['read']))('GET', '/v1/rules/river-high');
    expect(read.body).toStrictEqual(res.body);
  });

  it('takes the full form with a band, for, severity and runbook', async () => {
    const api = await h.as('environment', ['write']);
    const res = await api<Record<string, unknown>>('POST', '/v1/rules', {
      id: 'temp-band',
      name: 'Frost or heat',
      kind: 'threshold',
      quantity: 'air_temperature',
      unit: 'K',
      scope: { district: 'Nord' },
      condition: { op: 'outside', low: 273.15, high: 308.15 },
      for: '5m',
      severity: 'critical',
      runbook: 'https://wiki.example/frost',
    });
    expect(res.status).toBe(201);
    expect([res.body.scope, res.body.condition, res.body.forS, res.body.severity, res.body.runbook]).toStrictEqual([
      { department: 'environment', device: null, type: null, district: 'Nord' },
      { op: 'outside', value: null, low: 0, high: 35 },
      300,
      'critical',
      'https://wiki.example/frost',
    ]);
  });

  it('refuses a webhook URL that names a loopback, private or metadata address (SSRF), naming the target', async () => {
    const api = await h.as('environment', ['write']);
    const answers = [];
    for (const url of ['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x'])
      answers.push(
        await api('POST', '/v1/rules', {
          name: 'x',
          quantity: 'water_level',
          device: 'river-1',
          above: 1,
          notify: [hook, { ...hook, url }],
        }),
      );
    expect(
      answers.map((a) => [a.status, (a.body as { code: string }).code, (a.body as { detail: string }).detail]),
    ).toStrictEqual([
      [
        400,
        'SUS_ERR_WEBHOOK_ADDRESS',
        'webhook http://127.0.0.1:9/hook: 127.0.0.1 is a loopback, private, link-local or reserved address (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
      ],
      [
        400,
        'SUS_ERR_WEBHOOK_ADDRESS',
        'webhook http://169.254.169.254/latest/meta-data: 169.254.169.254 is a loopback, private, link-local or reserved address (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
      ],
      [
        400,
        'SUS_ERR_WEBHOOK_ADDRESS',
        'webhook http://[::1]/x: ::1 is a loopback, private, link-local or reserved address (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
      ],
    ]);
  });

  it('refuses a unit the catalogue cannot convert, with the units it can, and incoherent rules by field', async () => {
    const api = await h.as('environment', ['write']);
    const unit = await api('POST', '/v1/rules', {
      name: 'x',
      quantity: 'water_level',
      unit: 'ug/m3',
      device: 'river-1',
      above: 1,
    });
    expect([unit.status, unit.body]).toMatchObject([
      400,
      {
        code: 'SUS_ERR_RULE_UNIT',
        detail: "water_level thresholds cannot be given in 'ug/m3': the catalogue converts m, cm, mm, [ft_i] only",
      },
    ]);
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ name: 'x', quantity: 'water_level', device: 'river-1' }, 'SUS_ERR_RULE_INVALID', 'condition'],
      [{ name: 'x', quantity: 'water_level', above: 1, below: 0 }, 'SUS_ERR_RULE_INVALID', 'below'],
      [{ name: 'x', above: 1 }, 'SUS_ERR_RULE_INVALID', 'quantity'],
      [{ name: 'x', kind: 'silent', above: 1 }, 'SUS_ERR_RULE_INVALID', 'condition'],
      [{ name: 'x', kind: 'rate', quantity: 'water_level', above: 1 }, 'SUS_ERR_RULE_INVALID', 'per'],
      [{ name: 'x', quantity: 'water_level', above: 1, per: 'hour' }, 'SUS_ERR_RULE_INVALID', 'per'],
      [{ name: 'x', quantity: 'no_such', above: 1 }, 'SUS_ERR_UNKNOWN_QUANTITY', 'quantity'],
      [
        { name: 'x', quantity: 'pm10', above: 1, device: 'a', scope: { district: 'x' } },
        'SUS_ERR_RULE_INVALID',
        'device',
      ],
    ];
    // A NUL in a secret or a unit is refused by the grammar, before the registry's jsonb would refuse it.
    for (const bad of [{ notify: [{ ...hook, secret: `${hook.secret}\u0000` }] }, { unit: 'c\u0000m' }]) {
      const res = await api<{ code: string }>('POST', '/v1/rules', {
        name: 'x',
        quantity: 'water_level',
        device: 'river-1',
        above: 1,
        ...bad,
      });
      expect([res.status, res.body.code]).toStrictEqual([400, 'SUS_ERR_VALIDATION']);
    }
    for (const [body, code, field] of cases) {
      const res = await api<{ code: string; context?: { field?: string } }>('POST', '/v1/rules', body);
      expect([body, res.status, res.body.code, res.body.context?.field]).toStrictEqual([body, 400, code, field]);
    }
  });

  it("keeps rules per department: another department's rules are not listed, read, changed or deleted", async () => {
    const traffic = await h.as('traffic', ['read', 'write']);
    expect((await traffic<{ rules: unknown[] }>('GET', '/v1/rules')).body.rules).toStrictEqual([]);
    expect((await traffic<{ rules: unknown[] }>('GET', '/v1/rules?department=environment')).body.rules).toStrictEqual(
      [],
    );
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { name: 'mine now', quantity: 'water_level', above: 1 }],
      ['DELETE', undefined],
    ] as const) {
      const res = await traffic<{ code: string }>(method, '/v1/rules/river-high', body);
      expect([method, res.status, res.body.code]).toStrictEqual([method, 404, 'SUS_ERR_RULE_NOT_FOUND']);
    }
    const own = await (await h.as('environment', ['read']))<{ rules: Array<{ id: string }> }>('GET', '/v1/rules');
    expect(own.body.rules.map((r) => r.id)).toStrictEqual(['river-high', 'temp-band']);
  });

  it("creates a rule on another department's data only through a grant that covers it, and audits it", async () => {
    const api = await h.as('environment', ['write']);
    const shared = await api<{ grantId: string; scope: unknown }>('POST', '/v1/rules', {
      id: 'park-dust',
      name: 'Park dust',
      quantity: 'pm10',
      device: 'park-aq',
      above: 50,
    });
    expect(shared.status).toBe(201);
    expect(shared.body.grantId).toMatch(/^grant_/);
    expect(shared.body.scope).toStrictEqual({ department: 'parks', device: 'park-aq', type: null, district: null });
    const audit = await (await h.as('parks', ['admin']))<{ entries: Array<Record<string, unknown>> }>(
      'GET',
      '/v1/audit',
    );
    expect(audit.body.entries.map((e) => [e.grantId, e.reader, e.route])).toStrictEqual([
      [shared.body.grantId, 'environment', '/v1/rules'],
    ]);
    const notShared = await api<{ code: string }>('POST', '/v1/rules', {
      name: 'Park heat',
      quantity: 'air_temperature',
      device: 'park-aq',
      above: 30,
    });
    expect([notShared.status, notShared.body.code]).toStrictEqual([403, 'SUS_ERR_NOT_SHARED']);
    const other = await api<{ code: string }>('POST', '/v1/rules', {
      name: 'Traffic dust',
      quantity: 'pm10',
      device: 'traffic-aq',
      above: 50,
    });
    expect([other.status, other.body.code]).toStrictEqual([404, 'SUS_ERR_DEVICE_NOT_FOUND']);
    const wholeDept = await api<{ code: string }>('POST', '/v1/rules', {
      name: 'Traffic dust',
      quantity: 'pm10',
      department: 'traffic',
      above: 50,
    });
    expect([wholeDept.status, wholeDept.body.code]).toStrictEqual([403, 'SUS_ERR_NOT_SHARED']);
  });

  it('replaces and deletes a rule', async () => {
    const api = await h.as('environment', ['read', 'write']);
    const put = await api<{ condition: unknown; notify: unknown[] }>('PUT', '/v1/rules/river-high', {
      name: 'River high',
      quantity: 'water_level',
      device: 'river-1',
      above: 2,
    });
    expect([put.status, put.body.condition, put.body.notify]).toStrictEqual([
      200,
      { op: 'above', value: 2, low: null, high: null },
      [],
    ]);
    expect((await api('DELETE', '/v1/rules/temp-band')).status).toBe(204);
    expect((await api('GET', '/v1/rules/temp-band')).status).toBe(404);
  });
});
