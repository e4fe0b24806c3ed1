/** Collector process entry: `pnpm collector` (configuration: see config.ts and the README). */
import { ConfigError, loadStoresConfig } from '@flowbill/shared/config/index';
import { createPool } from '@flowbill/shared/postgres/index';
import { createRedisClient } from '../redis/index.js';
import { CollectorService } from './collector-service.js';
import { loadCollectorConfig } from './config.js';
import { createRegistry } from './metrics.js';

const log = (m: string) => console.error(`[collector] ${m}`);

async function main(): Promise<void> {
  let stores, config;
  try {
    stores = loadStoresConfig();
    config = loadCollectorConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`collector: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const redis = createRedisClient(stores.REDIS_URL, { onError: (e) => log(`redis: ${e.message}`) });
  const pool = createPool(stores.DATABASE_URL, { applicationName: 'flowbill-collector', onIdleError: (e) => log(`postgres: ${e.message}`) });
  const service = new CollectorService({
    config,
    redis,
    redisPrefix: stores.REDIS_PREFIX,
    pool,
    databaseUrl: stores.DATABASE_URL,
    registry: createRegistry(),
    log,
    // The UDP receive thread died: push what was decoded, then exit non-zero (restart).
    onFatal: () => void stop('fatal error', 1),
  });
  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    try {
      await service.stop();
    } finally {
      redis.disconnect();
      await pool.end();
      log('stopped');
      process.exit(exitCode);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await service.start();
  log(`metrics on http://${config.COLLECTOR_METRICS_LISTEN.host}:${config.COLLECTOR_METRICS_LISTEN.port}/metrics`);
}

main().catch((e) => {
  console.error(`collector: ${(e as Error).message}`);
  process.exit(1);
});
