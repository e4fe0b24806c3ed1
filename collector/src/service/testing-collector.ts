/**
 * Test helpers for a CollectorService in-process (receiver/*.test.ts): the service on a
 * private database and Redis prefix, listening on 127.0.0.1 on a free port, its log,
 * fatal errors and metrics registry kept for the test to read.
 */
import type { TestDatabase } from '@flowbill/shared/testing/postgres';
import type { RedisPrefix } from '@flowbill/shared/testing/redis';
import type { Registry } from 'prom-client';
import { CollectorService } from './collector-service.js';
import { loadCollectorConfig } from './config.js';
import { createRegistry } from './metrics.js';

export interface TestCollector {
  s: CollectorService;
  logs: string[];
  fatal: Error[];
  registry: Registry;
}

/** A collector service (not started) with `env` over test defaults; `/metrics` is not served. */
export function testCollectorService(stores: { redis: RedisPrefix; db: TestDatabase }, env: Record<string, string>): TestCollector {
  const logs: string[] = [];
  const fatal: Error[] = [];
  const registry = createRegistry();
  const s = new CollectorService({
    config: loadCollectorConfig({ COLLECTOR_LISTEN: '127.0.0.1:0', COLLECTOR_EXPORTERS: '127.0.0.1/32', ...env }),
    redis: stores.redis.redis,
    redisPrefix: stores.redis.prefix,
    pool: stores.db.pool,
    databaseUrl: stores.db.url,
    registry,
    log: (m) => logs.push(m),
    serveMetricsHttp: false,
    onFatal: (e) => fatal.push(e),
  });
  return { s, logs, fatal, registry };
}

/** Poll `check` every 10 ms; throws naming `what` when it does not hold within `ms`. */
export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
