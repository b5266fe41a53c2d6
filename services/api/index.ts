export { buildApi } from './app.ts';
export type { ApiContext } from './context.ts';
export { StaMqttFeed } from './sta/mqtt.ts';
