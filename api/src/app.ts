/**
 * The API as a Fastify instance with its dependencies injected, so tests and main.ts
 * build the same app. Each concern is a plugin; routes carry their zod schemas, which
 * drive validation, serialization and the OpenAPI document alike. Later route groups
 * (rating, invoices, payments) are added as further plugins next to `usage`.
 */
import type { ClickHouse } from '@flowbill/shared/clickhouse/index';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import authPlugin from './auth/plugin.js';
import billingPlugin from './billing/routes.js';
import { installErrorHandlers } from './errors.js';
import { docsUiPlugin, openApiPlugin } from './plugins/docs.js';
import healthPlugin from './plugins/health.js';
import metricsPlugin from './plugins/metrics.js';
import usagePlugin from './usage/routes.js';

export interface AppDependencies {
  clickhouse: ClickHouse;
  postgresPool: Pool;
  metricsRegistry: Registry;
  /** A pino-compatible logger; omitted means no logging (tests). */
  logger?: FastifyBaseLogger;
  /** How long a verified API key is trusted without asking PostgreSQL (default 30 s). */
  apiKeyCacheTtlMs?: number;
  /** Clock for the API key cache; tests move it instead of sleeping. */
  now?: () => number;
  /** Per-dependency timeout of /healthz probes (default 1 s). */
  healthTimeoutMs?: number;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Bucket starts and ids only; nothing larger is ever needed in a URL.
    routerOptions: { maxParamLength: 200 },
    // The API sits behind a reverse proxy at most; never trust client-supplied X-Forwarded-*.
    trustProxy: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);

  const { clickhouse, postgresPool: pool } = deps;

  // Order matters: the OpenAPI collector before any route it should describe, auth
  // before any route it protects. (The metrics hook is onResponse, which also runs for
  // the 401s auth sends, so it can come after auth.)
  await app.register(openApiPlugin);
  await app.register(authPlugin, { pool, cacheTtlMs: deps.apiKeyCacheTtlMs ?? 30_000, now: deps.now });
  await app.register(metricsPlugin, { registry: deps.metricsRegistry });
  await app.register(docsUiPlugin);
  await app.register(healthPlugin, {
    timeoutMs: deps.healthTimeoutMs ?? 1_000,
    checks: {
      postgresql: () => pool.query('SELECT 1'),
      clickhouse: async () => {
        if (!(await clickhouse.ping())) throw new Error('ClickHouse /ping did not answer Ok.');
      },
    },
  });
  await app.register(usagePlugin, { clickhouse, pool });
  await app.register(billingPlugin, { pool, now: deps.now });
  return app;
}
