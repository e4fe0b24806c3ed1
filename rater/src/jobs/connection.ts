/**
 * Redis connections for BullMQ and the key prefix of the rating queues.
 *
 * Unlike the collector's client (which fails fast because it retries by itself), BullMQ
 * needs `maxRetriesPerRequest: null` on connections that workers use: its blocking
 * commands and lock renewals must survive a Redis restart instead of erroring out of
 * the worker loop. Producers that answer a person (the CLI) pass `failFast` so an
 * unreachable Redis is an error within seconds rather than a hang.
 */
import { Redis } from 'ioredis';

export function createBullConnection(url: string, options: { failFast?: boolean; onError?: (error: Error) => void } = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: options.failFast ? 1 : null,
    enableReadyCheck: true,
    ...(options.failFast ? { connectTimeout: 5_000, retryStrategy: (times: number) => (times > 3 ? null : times * 200) } : {}),
  });
  // Without a listener ioredis prints every connection error; BullMQ reports the ones that matter.
  redis.on('error', options.onError ?? (() => {}));
  return redis;
}

/**
 * BullMQ key prefix of the rating queues: `<REDIS_PREFIX>{rating}`, e.g.
 * `flowbill:{rating}`. The `{rating}` hash tag keeps every key of every rating queue in
 * one Redis Cluster slot, which BullMQ's multi-key scripts require; the deployment
 * prefix keeps them apart from other deployments and from test runs.
 */
export function ratingQueuePrefix(redisPrefix: string): string {
  return `${redisPrefix}{rating}`;
}
