import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { targetDepartment } from '../../../services/api/auth.ts';
import { SusError } from '../../../services/common/errors.ts';

const as = (department: string | null) => ({ principal: { department } }) as unknown as FastifyRequest;

function refusal(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (err instanceof SusError) return { code: err.code, status: err.statusCode, message: err.message, ...err.context };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('targetDepartment: the department every write acts for', () => {
  it("takes the body's department, else the key's own", () => {
    expect(targetDepartment(as('roads'), undefined, 'department')).toBe('roads');
    expect(targetDepartment(as('roads'), 'roads', 'owner')).toBe('roads');
    expect(targetDepartment(as(null), 'parks', 'department')).toBe('parks');
  });

  it('refuses a platform-wide key that names none, naming the body field', () => {
    expect(refusal(() => targetDepartment(as(null), undefined, 'owner'))).toStrictEqual({
      code: 'SUS_ERR_VALIDATION',
      status: 400,
      message: 'body.owner is required for a platform-wide key',
      field: 'owner',
    });
  });

  it("refuses a department's key that names another department with 403", () => {
    expect(refusal(() => targetDepartment(as('roads'), 'parks', 'department'))).toStrictEqual({
      code: 'SUS_ERR_FORBIDDEN',
      status: 403,
      message: "this key acts for department 'roads', not 'parks'",
      field: 'department',
    });
  });
});
