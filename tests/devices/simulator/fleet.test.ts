import { describe, expect, it } from 'vitest';
import { DEPARTMENTS, DISTRICTS } from '../../../devices/simulator/city.ts';
import { DEMO_SEED, demoDevices } from '../../../devices/simulator/demo-devices.ts';
import { DEVICE_TYPE_IDS, DEVICE_TYPES } from '../../../devices/simulator/device-types.ts';
import { catalogue } from '../../../services/common/catalogue.ts';

describe('demo city', () => {
  it('has exactly the five departments', () => {
    expect(DEPARTMENTS.map((d) => d.id)).toEqual(['environment', 'traffic', 'parks', 'drainage', 'waste']);
    expect(DEPARTMENTS.find((d) => d.id === 'environment')?.name).toBe('Environment Office');
  });

  it('places the districts around the city centre', () => {
    expect(DISTRICTS.length).toBeGreaterThanOrEqual(8);
    for (const d of DISTRICTS) {
      expect(Math.abs(d.lat - 48.49)).toBeLessThan(0.05);
      expect(Math.abs(d.lon - 9.21)).toBeLessThan(0.05);
      expect(d.id).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it('only uses catalogue quantities and known departments in device types', () => {
    const departments = new Set(DEPARTMENTS.map((d) => d.id));
    for (const t of Object.values(DEVICE_TYPES)) {
      expect(departments.has(t.department)).toBe(true);
      expect(t.expectedIntervalS).toBeGreaterThan(0);
      for (const q of Object.keys(t.quantities)) expect(catalogue.get(q)?.name, q).toBe(q);
    }
  });
});

describe('demoDevices', () => {
  it('is deterministic', () => {
    expect(demoDevices()).toEqual(demoDevices());
    expect(demoDevices(48, DEMO_SEED)).toEqual(demoDevices());
  });

  it('returns 48 devices by default and exactly the requested count', () => {
    expect(demoDevices()).toHaveLength(48);
    for (const n of [0, 3, 8, 40, 100, 250]) expect(demoDevices(n)).toHaveLength(n);
  });

  it('covers every department and every device type', () => {
    const devices = demoDevices();
    expect(new Set(devices.map((d) => d.department))).toEqual(new Set(DEPARTMENTS.map((d) => d.id)));
    expect(new Set(devices.map((d) => d.type))).toEqual(new Set(DEVICE_TYPE_IDS));
    expect(new Set(demoDevices(40).map((d) => d.type))).toEqual(new Set(DEVICE_TYPE_IDS));
  });

  it('gives valid, unique ids', () => {
    for (const n of [48, 250]) {
      const ids = demoDevices(n).map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) {
        expect(id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
        expect(id.length).toBeLessThanOrEqual(64);
      }
    }
    expect(demoDevices()[0]?.id).toBe('aq-altstadt-01');
  });

  it('keeps each device consistent with its type and near its district centre', () => {
    const districts = new Map(DISTRICTS.map((d) => [d.id, d]));
    for (const d of demoDevices()) {
      expect(d.department).toBe(DEVICE_TYPES[d.type].department);
      const c = districts.get(d.district);
      expect(c).toBeDefined();
      expect(Math.abs(d.lat - (c?.lat ?? 0))).toBeLessThanOrEqual(0.005);
      expect(Math.abs(d.lon - (c?.lon ?? 0))).toBeLessThanOrEqual(0.007);
      expect(d.id.startsWith(`${DEVICE_TYPES[d.type].idPrefix}-${d.district}-`)).toBe(true);
      expect(d.name.length).toBeGreaterThan(0);
    }
  });

  it('spreads devices over the districts', () => {
    expect(new Set(demoDevices().map((d) => d.district)).size).toBe(DISTRICTS.length);
  });

  it('rejects invalid counts', () => {
    expect(() => demoDevices(-1)).toThrow(RangeError);
    expect(() => demoDevices(1.5)).toThrow(RangeError);
  });
});
