/**
 * An ioredis client configured for the push and flush loops, which do their own retrying:
 * commands fail fast while disconnected (no offline queue, no silent resend of in-flight
 * commands after a reconnect), so every retry is the caller's, visible in its metrics, and
 * never a second hidden copy. The client itself reconnects forever.
 */
import { Redis, type RedisOptions } from 'ioredis';

/**
 * `onError` receives connection errors (refused, reset...). They are expected while Redis
 * is down and need no handling here: the commands that fail meanwhile are retried and
 * counted by their callers. Without a listener ioredis would print each one.
 */
export function createRedisClient(url: string, options: RedisOptions & { onError?: (error: Error) => void } = {}): Redis {
  const { onError, ...redisOptions } = options;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // Wait for Redis to finish loading its AOF before "ready" (LOADING replies otherwise).
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    ...redisOptions,
  });
  redis.on('error', onError ?? (() => {}));
  return redis;
}
