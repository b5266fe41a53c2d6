export { DEPARTMENTS, type Department, type DepartmentId, DISTRICTS, type District } from './city.ts';
export { DEMO_SEED, type DemoDevice, demoDevices, registrationOf } from './demo-devices.ts';
export {
  DEVICE_TYPE_IDS,
  DEVICE_TYPES,
  type DeviceTypeId,
  type DeviceTypeSpec,
  type DiurnalShape,
  isDeviceTypeId,
  type QuantityName,
  quantitiesOf,
  type SignalKind,
  type SignalModel,
} from './device-types.ts';
export {
  DeviceFaults,
  type FaultDecision,
  type FaultOptions,
  MALFORMATIONS,
  type Malformation,
  malformedPayload,
} from './faults.ts';
export {
  canonical,
  chirpstackUplink,
  devEuiFor,
  encode,
  isSimFormat,
  SIM_FORMATS,
  type SimFormat,
  type SimReading,
  senml,
  ttnUplink,
} from './formats.ts';
export { type HttpPushOptions, HttpPushSimulator, type HttpPushStats } from './http-push.ts';
export { gaussian, hashSeed, mulberry32, type Rng, uniform } from './rng.ts';
export {
  CITY_TIME_ZONE,
  createDeviceState,
  type DeviceState,
  diurnalShape,
  type LocalClock,
  localClock,
  type QuantityState,
  type SampledReading,
  sampleReading,
} from './signal.ts';
export { FleetSimulator, type FleetSimulatorOptions, type SimDevice, type SimStats, upTopic } from './simulator.ts';
