import { beforeEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../../services/registry/index.ts';
import { BACKENDS, expectPlausibleIso, expectSusError, unavailable, useRegistry } from './backends.ts';

describe.each(BACKENDS)('registry departments on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let registry: Registry;
    beforeEach(() => {
      ({ registry } = under);
    });

    describe('departments', () => {
      it('createDepartment returns the department with a creation timestamp', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks & Gardens' });
        expectPlausibleIso(dep.createdAt);
        expect(dep).toStrictEqual({ id: 'parks', name: 'Parks & Gardens', createdAt: dep.createdAt });
      });

      it('listDepartments returns all departments ordered by id', async () => {
        expect(await registry.listDepartments()).toStrictEqual([]);
        const b = await registry.createDepartment({ id: 'water', name: 'Water' });
        const a = await registry.createDepartment({ id: 'environment', name: 'Environment' });
        expect(await registry.listDepartments()).toStrictEqual([a, b]);
      });

      it('getDepartment finds a department by id and returns undefined for an unknown id', async () => {
        const dep = await registry.createDepartment({ id: 'traffic', name: 'Traffic' });
        expect(await registry.getDepartment('traffic')).toStrictEqual(dep);
        expect(await registry.getDepartment('nope')).toBeUndefined();
      });

      it('a duplicate department id is a 409 SUS_ERR_DEPARTMENT_EXISTS and changes nothing', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks' });
        const err = await expectSusError(
          () => registry.createDepartment({ id: 'parks', name: 'Other' }),
          'SUS_ERR_DEPARTMENT_EXISTS',
          409,
        );
        expect(err.context).toStrictEqual({ id: 'parks' });
        expect(await registry.listDepartments()).toStrictEqual([dep]);
      });

      it('ensureDepartment creates once and is idempotent (keeps the first name)', async () => {
        await registry.ensureDepartment({ id: 'waste', name: 'Waste' });
        await registry.ensureDepartment({ id: 'waste', name: 'Waste' });
        await registry.ensureDepartment({ id: 'waste', name: 'Renamed' });
        const list = await registry.listDepartments();
        expect(list).toHaveLength(1);
        expectPlausibleIso(list[0]!.createdAt);
        expect(list).toStrictEqual([{ id: 'waste', name: 'Waste', createdAt: list[0]!.createdAt }]);
      });

      it('ensureDepartment leaves an existing department untouched', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks' });
        await registry.ensureDepartment({ id: 'parks', name: 'Something else' });
        expect(await registry.getDepartment('parks')).toStrictEqual(dep);
      });
    });
  });
});
