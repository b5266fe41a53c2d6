export { mayPublish, maySubscribe, mayUseClientId } from './acl.ts';
export { type BrokerOptions, type BrokerStats, type DeviceAuthenticator, SusBroker } from './broker.ts';
