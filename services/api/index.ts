import type { buildApi as BuildApi } from './app.ts';

/**
 * Loads Fastify, its plugins, Swagger UI, the routes and the QR-code renderer on first use: a `sus broker` node,
 * which takes only the SensorThings MQTT feed from this layer, never holds them (≈ 12 MB of its RSS, issue 17).
 */
export async function buildApi(...args: Parameters<typeof BuildApi>): ReturnType<typeof BuildApi> {
  const app = await import('./app.ts');
  return app.buildApi(...args);
}
export type { ApiContext } from './context.ts';
export { StaMqttFeed } from './sta/mqtt.ts';
