import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Db, Registry } from '../../../services/registry/index.ts';
import { BACKENDS, expectPlausibleIso, expectSusError, sha256Hex, unavailable, useRegistry } from './backends.ts';

describe.each(BACKENDS)('registry API keys on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    beforeEach(() => {
      ({ db, registry } = under);
    });

    describe('API keys', () => {
      beforeEach(async () => {
        await registry.ensureDepartment({ id: 'env', name: 'Environment' });
      });

      it('createApiKey returns a sus_ key and its record; only the hash is stored', async () => {
        const { key, record } = await registry.keys.create({
          name: 'env-reader',
          department: 'env',
          scopes: ['read', 'write'],
        });
        expect(key).toMatch(/^sus_[A-Za-z0-9_-]{22,}$/);
        expect(record.id).toMatch(/^key_[0-9a-f]{12}$/);
        expectPlausibleIso(record.createdAt);
        expect(record).toStrictEqual({
          id: record.id,
          name: 'env-reader',
          department: 'env',
          scopes: ['read', 'write'],
          createdAt: record.createdAt,
          revokedAt: null,
        });
        const [row] = await db.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [record.id]);
        expect(row?.key_hash).toBe(sha256Hex(key));
        expect(JSON.stringify(row)).not.toContain(key);
      });

      it('findApiKey finds a key by its token; an unknown token gives undefined', async () => {
        const { key, record } = await registry.keys.create({ name: 'ops', department: null, scopes: ['admin'] });
        expect(await registry.keys.find(key)).toStrictEqual(record);
        expect(await registry.keys.find(`${key}x`)).toBeUndefined();
        expect(await registry.keys.find('sus_unknown')).toBeUndefined();
        expect(await registry.keys.find(sha256Hex(key))).toBeUndefined();

        const scoped = await registry.keys.create({ name: 'prov', department: 'env', scopes: ['provision'] });
        const found = await registry.keys.find(scoped.key);
        expect(found?.department).toBe('env');
        expect(found?.scopes).toStrictEqual(['provision']);
      });

      it('createApiKey with an unknown department is a 400 SUS_ERR_UNKNOWN_DEPARTMENT', async () => {
        await expectSusError(
          () => registry.keys.create({ name: 'x', department: 'nope', scopes: ['read'] }),
          'SUS_ERR_UNKNOWN_DEPARTMENT',
          400,
        );
        expect(await registry.keys.named('x')).toBe('none');
      });

      it('ensureApiKey registers an operator-chosen token once (idempotent)', async () => {
        const token = `sus_${randomBytes(24).toString('base64url')}`;
        await registry.keys.ensure({ name: 'admin', department: null, scopes: ['admin'] }, token);
        await registry.keys.ensure({ name: 'admin', department: null, scopes: ['admin'] }, token);
        const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys');
        expect(rows).toStrictEqual([{ n: 1 }]);
        const found = await registry.keys.find(token);
        expectPlausibleIso(found?.createdAt);
        expect(found).toStrictEqual({
          id: expect.stringMatching(/^key_[0-9a-f]{12}$/),
          name: 'admin',
          department: null,
          scopes: ['admin'],
          createdAt: found?.createdAt,
          revokedAt: null,
        });
      });

      it('ensureApiKey leaves a revoked key revoked and says so', async () => {
        const token = 'operator-chosen-admin-key';
        const admin = { name: 'admin', department: null, scopes: ['admin' as const] };
        expect(await registry.keys.ensure(admin, token)).toBe('created');
        expect(await registry.keys.ensure(admin, token)).toBe('active');
        await db.query('UPDATE api_keys SET revoked_at = now()');
        expect(await registry.keys.ensure(admin, token)).toBe('revoked');
        expect(await registry.keys.find(token)).toBeUndefined();
        expect(await registry.keys.named('admin')).toBe('revoked');
      });

      it('keyNamed tells whether keys of a name exist and whether one is still active', async () => {
        expect(await registry.keys.named('reader')).toBe('none');
        const { key } = await registry.keys.create({ name: 'reader', department: 'env', scopes: ['read'] });
        expect(await registry.keys.named('reader')).toBe('active');
        expect(await registry.keys.named('other')).toBe('none');
        await db.query("UPDATE api_keys SET revoked_at = now() WHERE name = 'reader'");
        expect(await registry.keys.named('reader')).toBe('revoked');
        expect(await registry.keys.find(key)).toBeUndefined();
      });
    });
  });
});
