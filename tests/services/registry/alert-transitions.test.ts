import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../../services/registry/index.ts';
import { BACKENDS, unavailable, useRegistry } from './backends.ts';

/**
 * AlertStore.transitions: the state changes of one ingest batch in one transaction (the alert engine's write), on
 * embedded PGlite and on a real PostgreSQL.
 */
describe.each(BACKENDS)('alert transitions in one transaction on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const t = useRegistry(backend);
    const setUp = async () => {
      await t.db.exec('INSERT INTO departments (id, name) VALUES ($$drainage$$, $$d$$)');
      await t.db.query('INSERT INTO alert_rules (id, department_id, name, spec) VALUES ($1, $2, $3, $4)', [
        'weir-high',
        'drainage',
        'w',
        '{}',
      ]);
      return t.registry;
    };

    const change = (device: string, state: 'firing' | 'resolved', value: number, rule = 'weir-high') =>
      ({
        rule,
        device,
        department: 'drainage',
        state,
        value,
        at: new Date(Date.UTC(2026, 5, 1, 12, 0, value)),
        notify: [{ url: 'http://127.0.0.1:9/x', secret: 's' }],
        body: (a) => JSON.stringify({ alert: a.id, state: a.state }),
      }) satisfies AlertTransition;
    const count = async (table: string) =>
      Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);

    it('writes the changes in order, each with its history entry and delivery, and says which changed', async () => {
      const registry = await setUp();
      const results = await registry.alerts.transitions([
        change('w-1', 'firing', 1),
        change('w-2', 'firing', 2),
        change('w-1', 'resolved', 3),
        change('w-1', 'resolved', 4),
      ]);
      expect(results.map((r) => [r.alert.device, r.alert.state, r.changed, r.deliveries])).toStrictEqual([
        ['w-1', 'firing', true, 1],
        ['w-2', 'firing', true, 1],
        ['w-1', 'resolved', true, 1],
        ['w-1', 'resolved', false, 0],
      ]);
      const history = await registry.alerts.history(results[0]!.alert.id, 10);
      expect(history.map((h) => [h.state, h.value])).toStrictEqual([
        ['firing', 1],
        ['resolved', 3],
        ['resolved', 4],
      ]);
      expect((await registry.alerts.due(10)).map((d) => JSON.parse(d.body) as unknown)).toStrictEqual([
        { alert: 1, state: 'firing' },
        { alert: 2, state: 'firing' },
        { alert: 1, state: 'resolved' },
      ]);
    });

    it('starts a new episode when a resolved alert fires again: its times, acknowledgement and keys start anew', async () => {
      const registry = await setUp();
      const [first] = await registry.alerts.transitions([change('w-1', 'firing', 1)]);
      await registry.alerts.acknowledge(first!.alert.id, 'drainage', 'key-1', 'on it');
      await registry.alerts.transitions([change('w-1', 'resolved', 2)]);
      const acked = await registry.alerts.get(first!.alert.id);
      const [again] = await registry.alerts.transitions([change('w-1', 'firing', 3)]);
      const at = (s: number) => new Date(Date.UTC(2026, 5, 1, 12, 0, s)).toISOString();
      expect([acked!.ackedBy, acked!.resolvedAt, acked!.episode]).toStrictEqual(['key-1', at(2), 1]);
      expect({ ...again!.alert, updatedAt: 'now' }).toStrictEqual({
        id: first!.alert.id,
        rule: 'weir-high',
        device: 'w-1',
        department: 'drainage',
        state: 'firing',
        episode: 2,
        value: 3,
        since: at(3),
        firedAt: at(3),
        resolvedAt: null,
        ackedAt: null,
        ackedBy: null,
        ackNote: null,
        updatedAt: 'now',
      });
      expect((await registry.alerts.deliveries(first!.alert.id, 10)).map((d) => d.idempotencyKey)).toStrictEqual([
        `alert-${first!.alert.id}-1-firing-0`,
        `alert-${first!.alert.id}-1-resolved-0`,
        `alert-${first!.alert.id}-2-firing-0`,
      ]);
    });

    it('holds back the notifications a silence covers and says so in the history, for new and known alerts', async () => {
      const registry = await setUp();
      await registry.alerts.createSilence({
        department: 'drainage',
        rule: 'weir-high',
        device: null,
        reason: 'maintenance',
        endsAt: new Date(Date.now() + 3600_000).toISOString(),
        createdBy: null,
      });
      const results = await registry.alerts.transitions([
        change('w-1', 'firing', 1),
        change('w-1', 'resolved', 2),
        change('w-1', 'firing', 3),
      ]);
      expect(results.map((r) => [r.alert.state, r.changed, r.silenced, r.deliveries])).toStrictEqual([
        ['firing', true, true, 0],
        ['resolved', true, true, 0],
        ['firing', true, true, 0],
      ]);
      const history = await registry.alerts.history(results[0]!.alert.id, 10);
      expect(history.map((h) => [h.state, h.note])).toStrictEqual([
        ['firing', 'notifications held back by a silence'],
        ['resolved', 'notifications held back by a silence'],
        ['firing', 'notifications held back by a silence'],
      ]);
      expect(await count('alert_deliveries')).toBe(0);
    });

    it('writes none of the batch when one change cannot be written (its rule is gone)', async () => {
      const registry = await setUp();
      await expect(
        registry.alerts.transitions([change('w-1', 'firing', 1), change('w-2', 'firing', 2, 'deleted-rule')]),
      ).rejects.toMatchObject({ code: '23503' });
      expect([await count('alerts'), await count('alert_history'), await count('alert_deliveries')]).toStrictEqual([
        0, 0, 0,
      ]);
    });
  });
});
