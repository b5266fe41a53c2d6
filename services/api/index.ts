export { buildApi } from './app.ts';
export type { ApiContext } from './context.ts';
export { StaMqttFeed, staReadAccess } from './sta/mqtt.ts';
