/**
 * The queue side of a rater process, given its handlers: producer queues, one worker per
 * job kind, and (optionally) the scheduler. main.ts wires it to PostgreSQL, ClickHouse
 * and the billing service; crash tests wire it to their own pools.
 */
import type { Redis } from 'ioredis';
import type { RaterConfig } from './config.js';
import { createBullConnection, ratingQueuePrefix } from './connection.js';
import { RatingQueues } from './rating-queues.js';
import { startRatingWorkers, type JobLogger, type RatingJobHandlers, type RatingWorkers } from './rating-workers.js';
import { startScheduler, type Scheduler, type SubscriberSource } from './scheduler.js';

export interface RaterRuntime {
  readonly queues: RatingQueues;
  readonly workers: RatingWorkers;
  readonly scheduler: Scheduler | null;
  /**
   * Graceful stop: the scheduler and the workers stop taking jobs, active jobs finish,
   * then the connections close. A job still running when the process is killed anyway is
   * picked up again by another worker once its lock expires.
   */
  close(): Promise<void>;
}

export interface RaterRuntimeOptions {
  readonly config: RaterConfig;
  /** Handlers, given the producer queues they chain the next steps onto. */
  readonly handlers: (queues: RatingQueues) => RatingJobHandlers;
  readonly subscribers: SubscriberSource;
  readonly log: JobLogger;
}

export async function startRaterRuntime(options: RaterRuntimeOptions): Promise<RaterRuntime> {
  const { config, log } = options;
  const prefix = ratingQueuePrefix(config.REDIS_PREFIX);
  const onError = (error: Error) => log.warn({ err: error }, 'Redis connection error');
  const connection: Redis = createBullConnection(config.REDIS_URL, { onError });
  const queues = new RatingQueues({ connection, prefix, retry: { attempts: config.RATER_ATTEMPTS, backoffMs: config.RATER_BACKOFF_MS } });
  const workers = startRatingWorkers({
    connection,
    prefix,
    queues,
    handlers: options.handlers(queues),
    concurrency: config.RATER_CONCURRENCY,
    lockDurationMs: config.RATER_LOCK_MS,
    stalledIntervalMs: config.RATER_STALLED_INTERVAL_MS,
    maxStalledCount: config.RATER_MAX_STALLED,
    log,
  });
  await workers.waitUntilReady();
  const scheduler = config.RATER_SCHEDULER
    ? await startScheduler({
        connection,
        prefix,
        queues,
        source: options.subscribers,
        accrualEveryMs: config.RATER_ACCRUAL_MINUTES * 60_000,
        graceMs: config.RATER_GRACE_HOURS * 3_600_000,
        chunkSize: config.RATER_FANOUT_CHUNK,
        log,
      })
    : null;
  return {
    queues,
    workers,
    scheduler,
    async close() {
      await scheduler?.close();
      await workers.close();
      await queues.close();
      connection.disconnect();
    },
  };
}
