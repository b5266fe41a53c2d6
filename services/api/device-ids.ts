import { SusError } from '../common/errors.ts';
import type { Device, NewDevice, Registry } from '../registry/index.ts';

/**
 * Device ids are one namespace for every department (they are MQTT usernames). A taken id is refused as existing
 * where the caller may see the device (its own department, platform-wide keys), and otherwise only as not
 * available: the answer does not confirm that another department has a device of that name.
 */
export function takenId(id: string, owner: string, actingFor: string | undefined): SusError {
  if (actingFor === undefined || owner === actingFor)
    return new SusError('SUS_ERR_DEVICE_EXISTS', `device '${id}' already exists`, 409, { device: id });
  return new SusError('SUS_ERR_DEVICE_ID_UNAVAILABLE', `device id '${id}' is not available: choose another`, 409, {
    field: 'id',
  });
}

/** Registers a device for a department key (`actingFor`) or a platform-wide one (undefined). */
export async function createDeviceAs(
  registry: Registry,
  d: NewDevice,
  actingFor: string | undefined,
): Promise<{ device: Device; secret: string }> {
  try {
    return await registry.createDevice(d);
  } catch (err) {
    if (err instanceof SusError && err.code === 'SUS_ERR_DEVICE_EXISTS' && d.id !== undefined) {
      const owner = (await registry.departmentsOf([d.id])).get(d.id);
      if (owner !== undefined) throw takenId(d.id, owner, actingFor);
    }
    throw err;
  }
}
