import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../common/logger.ts';
import { installAuth } from './auth.ts';
import type { ApiContext } from './context.ts';
import { installProblemHandlers } from './problem.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { departmentRoutes } from './routes/departments.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { readingRoutes } from './routes/readings.ts';

/** Layer 3: the REST API, its OpenAPI document at /docs/json and the interactive docs at /docs. */
export async function buildApi(ctx: ApiContext, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic types.
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    logController: new LogController({ disableRequestLogging: !log.isLevelEnabled('debug') }),
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
  installAuth(app, ctx.registry);
  for (const routes of [healthRoutes, metricsRoutes, departmentRoutes, deviceRoutes, readingRoutes, deadLetterRoutes]) {
    await app.register(routes(ctx));
  }
  return app;
}
