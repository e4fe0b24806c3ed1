/**
 * Real stores for the job tests: a random BullMQ prefix on the test Redis (keys deleted
 * afterwards) and a private, migrated PostgreSQL database per test file. Each test gets
 * fresh queues under a fresh prefix, so jobs of one test never reach another's workers.
 */
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createBullConnection, ratingQueuePrefix } from '../../../src/jobs/connection.js';
import type { RetryPolicy } from '../../../src/jobs/job-options.js';
import { RatingQueues } from '../../../src/jobs/rating-queues.js';
import { startRatingWorkers, type RatingJobHandlers, type RatingWorkers, type RatingWorkersOptions } from '../../../src/jobs/rating-workers.js';

export interface JobStack {
  readonly pool: pg.Pool;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** The BullMQ prefix of this test's queues. */
  readonly prefix: string;
  readonly connection: Redis;
  readonly queues: RatingQueues;
  /** Start workers on this test's queues (closed after the test). */
  startWorkers(handlers: RatingJobHandlers, options?: Partial<RatingWorkersOptions>): Promise<RatingWorkers>;
}

export const TEST_RETRY: RetryPolicy = { attempts: 3, backoffMs: 50 };

/**
 * `database: false` leaves PostgreSQL to the caller (the billing tests use the billing
 * harness's database); `pool` and `databaseUrl` then throw.
 */
export function withJobStack(options: { retry?: RetryPolicy; database?: boolean } = {}): JobStack {
  let database: TestDatabase | undefined;
  let redis: RedisPrefix | undefined;
  let connection: Redis | undefined;
  let queues: RatingQueues | undefined;
  let workers: RatingWorkers[] = [];

  beforeAll(async () => {
    if (options.database ?? true) database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  beforeEach(async () => {
    redis = await createRedisPrefix();
    connection = createBullConnection(redis.url);
    queues = new RatingQueues({ connection, prefix: ratingQueuePrefix(redis.prefix), retry: options.retry ?? TEST_RETRY });
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
    workers = [];
    await queues?.close();
    connection?.disconnect();
    await redis?.cleanup();
  });

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`withJobStack(): ${what} exists inside tests and hooks only`);
    return value;
  };

  return {
    get pool() {
      return need(database, 'the database').pool;
    },
    get databaseUrl() {
      return need(database, 'the database').url;
    },
    get redisUrl() {
      return need(redis, 'the Redis prefix').url;
    },
    get prefix() {
      return ratingQueuePrefix(need(redis, 'the Redis prefix').prefix);
    },
    get connection() {
      return need(connection, 'the connection');
    },
    get queues() {
      return need(queues, 'the queues');
    },
    async startWorkers(handlers, overrides = {}) {
      const started = startRatingWorkers({
        connection: need(connection, 'the connection'),
        prefix: ratingQueuePrefix(need(redis, 'the Redis prefix').prefix),
        queues: need(queues, 'the queues'),
        handlers,
        lockDurationMs: 2_000,
        stalledIntervalMs: 500,
        ...overrides,
      });
      workers.push(started);
      await started.waitUntilReady();
      return started;
    },
  };
}

/** Poll until `check` holds (or throw after `timeoutMs`, naming `what`). */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The job's state once it is completed or failed. */
export async function settled(job: Job | undefined, what = 'job settles'): Promise<'completed' | 'failed'> {
  if (!job) throw new Error('settled(): no such job');
  return eventually(async () => {
    const state = await job.getState();
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, what);
}
