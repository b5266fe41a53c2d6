export { mayPublish, maySubscribe, mayUseClientId, STA_CLIENT_PREFIX, STA_TOPIC_ROOT, STA_USERNAME } from './acl.ts';
export {
  type BrokerDeps,
  type BrokerOptions,
  type BrokerStats,
  type DeviceAuthenticator,
  type StaReadAccess,
  SusBroker,
  type UplinkHandler,
} from './broker.ts';
export { commandMessage, configMessage } from './downlink-messages.ts';
export { brokerOptions, createBroker } from './from-config.ts';
export { LinePresenceSink, type PresenceSink } from './presence.ts';
export { BrokerSelfMetrics } from './self-metrics.ts';
