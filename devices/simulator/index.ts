export {
  DeviceFaults,
  type FaultDecision,
  type FaultOptions,
  MALFORMATIONS,
  type Malformation,
  malformedPayload,
} from './faults.ts';
export {
  DEMO_SEED,
  DEPARTMENTS,
  DEVICE_TYPE_IDS,
  DEVICE_TYPES,
  type DemoDevice,
  type Department,
  type DepartmentId,
  type DeviceTypeId,
  type DeviceTypeSpec,
  DISTRICTS,
  type District,
  type DiurnalShape,
  demoDevices,
  isDeviceTypeId,
  type QuantityName,
  quantitiesOf,
  type SignalKind,
  type SignalModel,
} from './fleet.ts';
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
