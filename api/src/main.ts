/**
 * The API process: configuration from the environment, stores, HTTP server, and a
 * graceful stop on SIGINT/SIGTERM (stop accepting, finish in-flight requests, close the
 * pools). Schema migrations are not run here: the API reads what the migration step
 * (local stack, deploy) created, and /healthz reports a store it cannot reach.
 */
import { createClickHouse } from '@flowbill/shared/clickhouse/index';
import { ConfigError } from '@flowbill/shared/config/index';
import { createPool, redactDatabaseUrl } from '@flowbill/shared/postgres/index';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildApp } from './app.js';
import { loadApiConfig, type ApiConfig } from './config.js';

/** In-flight requests get this long after a stop signal before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config: ApiConfig;
  try {
    config = loadApiConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`flowbill api: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'flowbill-api' } });
  const pool = createPool(config.DATABASE_URL, {
    applicationName: 'flowbill-api',
    connectionTimeoutMs: 5_000,
    onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
  });
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const app = await buildApp({
    clickhouse,
    postgresPool: pool,
    metricsRegistry: new Registry(),
    logger,
    apiKeyCacheTtlMs: config.API_KEY_CACHE_SECONDS * 1000,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second stop signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error(`in-flight requests still running after ${SHUTDOWN_GRACE_MS} ms: exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    void (async () => {
      try {
        await app.close();
        await Promise.allSettled([pool.end(), clickhouse.close()]);
        logger.info('stopped');
        process.exitCode = 0;
      } catch (err) {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
      } finally {
        clearTimeout(force);
      }
    })();
  };
  // on(), not once(): a second Ctrl-C must reach stop() to force the exit.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  await app.listen({ host: config.API_HOST, port: config.API_PORT });
  logger.info(
    { database: redactDatabaseUrl(config.DATABASE_URL), clickhouse: config.CLICKHOUSE_URL, clickhouseDatabase: config.CLICKHOUSE_DATABASE },
    'flowbill api ready',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`flowbill api: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
