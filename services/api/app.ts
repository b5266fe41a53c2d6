import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../common/logger.ts';
import type { RegistryEvent } from '../registry/index.ts';
import { installAuth, type RouteScope } from './auth.ts';
import { installConsole } from './console.ts';
import type { ApiContext } from './context.ts';
import { createDeps } from './deps.ts';
import { clientErrorHandler, frameworkErrors, installProblemHandlers } from './problem.ts';
import { alertRoutes } from './routes/alerts.ts';
import { commandRoutes } from './routes/commands.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { departmentRoutes } from './routes/departments.ts';
import { deviceTypeRoutes } from './routes/device-types.ts';
import { deviceRoutes } from './routes/devices.ts';
import { errorsDocRoutes } from './routes/errors-doc.ts';
import { grantRoutes } from './routes/grants.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestHttpRoutes } from './routes/ingest-http.ts';
import { keyRoutes } from './routes/keys.ts';
import { latestRoutes } from './routes/latest.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openDataRoutes } from './routes/open-data.ts';
import { provisionRoutes } from './routes/provision.ts';
import { readingRoutes } from './routes/readings.ts';
import { reportRoutes } from './routes/reports.ts';
import { ruleRoutes } from './routes/rules.ts';
import { sensorThingsRoutes } from './routes/sensorthings.ts';
import { sessionRoutes } from './routes/session.ts';
import { streamRoutes } from './routes/stream.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared scope (undefined: none declared), for the authorisation tests. */
    routeScopes: Array<{ method: string; url: string; scope: RouteScope | undefined }>;
  }
}

/** Layer 3: the REST API, its OpenAPI document at /docs/json and the interactive docs at /docs. */
export async function buildApi(ctx: ApiContext, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic types.
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    logController: new LogController({ disableRequestLogging: !log.isLevelEnabled('debug') }),
    // Errors Fastify and Node answer before routing are problem bodies with a catalogued code like all others.
    frameworkErrors,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'SUS — Smart Urban Services API',
        description:
          'Devices, readings and dead letters of the city sensor platform. Errors are application/problem+json.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // The limiter's store only: installAuth charges each request to its resolved identity (no global hook that would
  // key on the raw header or run before the key is known).
  // In a cluster the counts live in Redis, so a limit holds across API nodes; a Redis outage lets requests through
  // (skipOnError) rather than failing every request of the city's apps.
  const shared = ctx.sharedLimits;
  await app.register(
    rateLimit,
    shared
      ? { global: false, redis: shared.redis, nameSpace: `${shared.prefix}rate:`, skipOnError: true }
      : { global: false },
  );
  const forgetKey = installAuth(app, ctx.registry, { max: ctx.config.SUS_API_RATE_LIMIT, windowMs: 60_000 });
  // A revocation through another process (another API node, relayed by the registry) ends the cached key here too.
  const onChange = (e: RegistryEvent) => {
    if (e.type === 'key-revoked') forgetKey(e.id);
  };
  ctx.registry.on('change', onChange);
  app.addHook('onClose', async () => {
    ctx.registry.off('change', onChange);
  });
  const deps = createDeps(ctx, forgetKey);
  const routeScopes: FastifyInstance['routeScopes'] = [];
  app.decorate('routeScopes', routeScopes);
  app.addHook('onRoute', (r) => {
    if (!r.url.startsWith('/v1/') && !r.url.startsWith('/sta/')) return;
    const config = r.config as { scope?: RouteScope } | undefined;
    for (const method of [r.method].flat())
      if (method !== 'HEAD') routeScopes.push({ method, url: r.url, scope: config?.scope });
  });
  deps.hub?.start();
  app.addHook('onClose', async () => deps.hub?.stop());
  for (const routes of [
    healthRoutes,
    metricsRoutes,
    errorsDocRoutes,
    departmentRoutes,
    keyRoutes,
    deviceTypeRoutes,
    deviceRoutes,
    provisionRoutes,
    latestRoutes,
    readingRoutes,
    streamRoutes,
    grantRoutes,
    openDataRoutes,
    reportRoutes,
    deadLetterRoutes,
    ingestHttpRoutes,
    commandRoutes,
    sensorThingsRoutes,
    ruleRoutes,
    alertRoutes,
  ]) {
    await app.register(routes(deps));
  }
  await app.register(sessionRoutes(deps));
  await installConsole(app, ctx.config);
  return app;
}
