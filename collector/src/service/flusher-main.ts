/** Flusher process entry: `pnpm flusher` — moves closed minutes from Redis to ClickHouse exactly once. */
import { createClickHouse } from '@flowbill/shared/clickhouse/index';
import { ConfigError, loadStoresConfig } from '@flowbill/shared/config/index';
import { ApiKeyVerifier } from '@flowbill/shared/postgres/api-key-verifier';
import { createPool } from '@flowbill/shared/postgres/index';
import { ClickHouseUsageStore, Flusher } from '../flusher/index.js';
import { createRedisClient } from '../redis/index.js';
import { loadFlusherConfig } from './config.js';
import { createRegistry, serveMetrics } from './metrics.js';
import { PromPipelineMetrics } from './prom-pipeline-metrics.js';

const log = (m: string) => console.error(`[flusher] ${m}`);

async function main(): Promise<void> {
  let stores, config;
  try {
    stores = loadStoresConfig();
    config = loadFlusherConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`flusher: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const redis = createRedisClient(stores.REDIS_URL, { onError: (e) => log(`redis: ${e.message}`) });
  const ch = createClickHouse({ url: stores.CLICKHOUSE_URL, database: stores.CLICKHOUSE_DATABASE, requestTimeoutMs: 25_000 });
  const registry = createRegistry();
  const flusher = new Flusher(redis, new ClickHouseUsageStore(ch), {
    prefix: stores.REDIS_PREFIX,
    flusherId: config.FLUSHER_ID,
    closeDelayMs: config.FLUSHER_CLOSE_DELAY_MS,
    claimIntervalMs: config.FLUSHER_CLAIM_INTERVAL_MS,
    maxInsertRows: config.FLUSHER_MAX_INSERT_ROWS,
    leaseMs: config.FLUSHER_LEASE_MS,
    // Must exceed the ClickHouse client's request timeout (25 s) and leave lease to spare.
    insertTimeoutMs: 30_000,
    metrics: new PromPipelineMetrics(registry),
    onError: (error, context) => log(`${context}: ${(error as Error).message} (will retry)`),
  });
  const m = config.FLUSHER_METRICS_LISTEN;
  // Only API keys are read from PostgreSQL: /metrics needs one, like every API route.
  const pool = createPool(stores.DATABASE_URL, { max: 2, applicationName: 'flowbill-flusher', onIdleError: (e) => log(`postgres: ${e.message}`) });
  const keys = new ApiKeyVerifier({ pool, cacheTtlMs: 30_000 });
  const server = await serveMetrics(registry, m.host, m.port, () => true, async (key) => (await keys.verify(key)) !== null);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    try {
      await flusher.stop();
    } finally {
      server.close();
      await pool.end();
      redis.disconnect();
      await ch.close();
      log('stopped');
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Start claiming once Redis answers (a first cycle on a connecting client just fails).
  if (redis.status !== 'ready') await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  flusher.start();
  log(`flushing closed minutes to ${stores.CLICKHOUSE_URL}/${stores.CLICKHOUSE_DATABASE}; metrics on http://${m.host}:${m.port}/metrics`);
}

main().catch((e) => {
  console.error(`flusher: ${(e as Error).message}`);
  process.exit(1);
});
