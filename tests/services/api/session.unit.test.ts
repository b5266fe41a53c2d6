import { describe, expect, it } from 'vitest';
import { principalOf } from '../../../services/api/routes/session.ts';
import { roleOf } from '../../../services/api/session.ts';
import { loadConfig } from '../../../services/common/config.ts';
import { SusError } from '../../../services/common/errors.ts';

describe('OpenID claims → the principal a console session acts as', () => {
  const of = (claims: Record<string, unknown>) => principalOf(claims, 'sus_role', 'sus_department');

  it('gives a role its scopes, acting for the department the claim names', () => {
    const p = of({ sub: 'u1', name: 'Tina', sus_role: 'technician', sus_department: 'environment' });
    expect(p.role).toBe('technician');
    expect({ ...p.key, createdAt: 'x' }).toStrictEqual({
      id: 'oidc:u1',
      name: 'Tina',
      department: 'environment',
      scopes: ['read', 'provision'],
      createdAt: 'x',
      revokedAt: null,
    });
  });

  it('takes the strongest known role of a list and ignores unknown ones', () => {
    expect(roleOf(['viewer', 'admin-of-everything', 'department-admin'])).toBe('department-admin');
    expect(roleOf('root')).toBeUndefined();
    expect(roleOf(undefined)).toBeUndefined();
  });

  it('an operator acts platform-wide whatever department is named', () => {
    const p = of({ sub: 'op', sus_role: 'operator', sus_department: 'traffic' });
    expect([p.key.department, p.key.scopes]).toStrictEqual([null, ['admin']]);
  });

  it('refuses a person without a known role or without a department, naming the claim', () => {
    const refusal = (claims: Record<string, unknown>) => {
      try {
        of(claims);
      } catch (err) {
        return err instanceof SusError ? [err.code, err.statusCode, err.context?.field] : err;
      }
      return 'signed in';
    };
    expect(refusal({ sub: 'a', sus_department: 'environment' })).toStrictEqual([
      'SUS_ERR_OIDC_SIGN_IN',
      403,
      'sus_role',
    ]);
    expect(refusal({ sub: 'b', sus_role: 'viewer' })).toStrictEqual(['SUS_ERR_OIDC_SIGN_IN', 403, 'sus_department']);
    expect(refusal({ sub: 'c', sus_role: 'viewer', sus_department: '' })).toStrictEqual([
      'SUS_ERR_OIDC_SIGN_IN',
      403,
      'sus_department',
    ]);
  });
});

describe('OpenID settings', () => {
  it('an issuer without its client id and redirect URL is a configuration error naming both', () => {
    expect(() => loadConfig({ SUS_OIDC_ISSUER: 'https://id.example.org/realms/city' })).toThrow(
      /SUS_OIDC_CLIENT_ID: required when SUS_OIDC_ISSUER is set[\s\S]*SUS_OIDC_REDIRECT_URL: required when SUS_OIDC_ISSUER is set/,
    );
  });
});
