import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import {
  type ApiKey,
  ConsoleSessionStore,
  type Db,
  type Registry,
  RegistryHousekeeping,
  retentionSettings,
} from '../../../services/registry/index.ts';
import { BACKENDS, sha256Hex, unavailable, useRegistry } from './backends.ts';

const sid = () => randomBytes(32).toString('base64url');
const person = (sub: string): ApiKey => ({
  id: `oidc:${sub}`,
  name: sub,
  department: 'env',
  scopes: ['read'],
  createdAt: '2026-01-01T00:00:00.000Z',
  revokedAt: null,
});

describe.each(BACKENDS)('console sessions in the registry on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    beforeEach(async () => {
      ({ db, registry } = under);
      await db.exec('TRUNCATE console_sessions, oidc_sign_ins');
      await registry.ensureDepartment({ id: 'env', name: 'Environment' });
    });

    it('stores only the hash of a session id; an API-key session acts as the key and ends with its revocation', async () => {
      const { record } = await registry.keys.create({ name: 'tech', department: 'env', scopes: ['read', 'provision'] });
      const id = sid();
      await registry.sessions.open(id, { apiKeyId: record.id, csrf: 'csrf-1', ttlMs: 60_000 });
      const rows = await db.query<Record<string, unknown>>('SELECT * FROM console_sessions');
      expect(rows.map((r) => r.id_hash)).toStrictEqual([sha256Hex(id)]);
      expect(JSON.stringify(rows)).not.toContain(id);
      const s = await registry.sessions.get(id);
      expect({ ...s, expiresAt: 'x' }).toStrictEqual({
        key: record,
        csrf: 'csrf-1',
        role: null,
        via: 'api-key',
        expiresAt: 'x',
      });
      await registry.keys.revoke(record.id);
      expect(await registry.sessions.get(id)).toBeUndefined();
    });

    it('an OpenID session keeps its principal and role; signing out ends it; an expired one is refused', async () => {
      const a = sid();
      const b = sid();
      await registry.sessions.open(a, { principal: person('tina'), role: 'technician', csrf: 'c', ttlMs: 60_000 });
      await registry.sessions.open(b, { principal: person('tina'), role: 'technician', csrf: 'c', ttlMs: 60_000 });
      expect((await registry.sessions.get(a))?.key).toStrictEqual(person('tina'));
      expect((await registry.sessions.get(a))?.role).toBe('technician');
      await registry.sessions.end(a);
      expect(await registry.sessions.get(a)).toBeUndefined();
      await db.query("UPDATE console_sessions SET expires_at = now() - interval '1 second'");
      expect(await registry.sessions.get(b)).toBeUndefined();
      expect(await registry.sessions.get(undefined)).toBeUndefined();
    });

    it('is bounded: a person keeps at most perPerson sessions and the table at most total, the oldest ending first', async () => {
      const store = new ConsoleSessionStore(db, { perPerson: 2, total: 3 });
      const ids = [sid(), sid(), sid()];
      for (const id of ids)
        await store.open(id, { principal: person('anna'), role: 'viewer', csrf: 'c', ttlMs: 60_000 });
      expect((await Promise.all(ids.map((id) => store.get(id)))).map((s) => s !== undefined)).toStrictEqual([
        false,
        true,
        true,
      ]);
      const others = [sid(), sid()];
      await store.open(others[0]!, { principal: person('bert'), role: 'viewer', csrf: 'c', ttlMs: 60_000 });
      await store.open(others[1]!, { principal: person('carl'), role: 'viewer', csrf: 'c', ttlMs: 60_000 });
      const [n] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM console_sessions');
      expect(n?.n).toBe(3);
      expect(await store.get(ids[1])).toBeUndefined();
      expect(await store.get(others[1])).toBeDefined();
    });

    it('a pending OpenID sign-in is found once by its state; housekeeping sweeps expired sessions and sign-ins', async () => {
      await registry.sessions.begin('state-1', { verifier: 'v', nonce: 'n' }, 60_000);
      expect(await registry.sessions.take('state-1')).toStrictEqual({ verifier: 'v', nonce: 'n' });
      expect(await registry.sessions.take('state-1')).toBeUndefined();
      await registry.sessions.begin('state-2', { verifier: 'v', nonce: 'n' }, 60_000);
      await registry.sessions.open(sid(), { principal: person('dora'), role: 'viewer', csrf: 'c', ttlMs: 60_000 });
      const live = sid();
      await registry.sessions.open(live, { principal: person('emil'), role: 'viewer', csrf: 'c', ttlMs: 60_000 });
      await db.query("UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE person = 'oidc:dora'");
      await db.query("UPDATE oidc_sign_ins SET expires_at = now() - interval '1 second'");
      expect(await registry.sessions.take('state-2')).toBeUndefined();
      const keeper = new RegistryHousekeeping(registry, retentionSettings(loadConfig({})), silentLogger);
      expect((await keeper.runOnce()).sessions).toBe(2);
      const rows = await db.query<{ person: string }>('SELECT person FROM console_sessions');
      expect(rows).toStrictEqual([{ person: 'oidc:emil' }]);
      expect(await db.query('SELECT * FROM oidc_sign_ins')).toStrictEqual([]);
    });
  });
});
