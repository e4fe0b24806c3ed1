/**
 * The scheduler: a BullMQ job scheduler adds one `tick` job to the `rating-schedule`
 * queue every `accrualEveryMin`, and a worker on that queue fans the tick out into
 * per-subscriber jobs, a page of subscribers at a time (one addBulk per page).
 *
 * Using BullMQ's own repeatable job rather than a timer in the process means several
 * scheduler processes can run for availability and still produce one tick per
 * interval; a tick that fails is retried like any job, and a tick interrupted half-way
 * is simply run again (every job it adds has a deterministic id).
 */
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { SCHEDULE_QUEUE } from './job-types.js';
import type { RatingQueues } from './rating-queues.js';
import { SILENT_LOGGER, type JobLogger } from './rating-workers.js';
import { planTick, type ScheduledSubscriber } from './schedule-plan.js';

export interface SubscriberSource {
  /** Subscribers to accrue and close for, with id > `afterId` (null: from the start), ordered by id, at most `limit`. */
  page(afterId: string | null, limit: number): Promise<ScheduledSubscriber[]>;
}

export interface TickOptions {
  readonly accrualEveryMs: number;
  readonly graceMs: number;
  /** Subscribers per page, i.e. per addBulk round trip. */
  readonly chunkSize: number;
}

export interface TickSummary {
  readonly subscribers: number;
  readonly accruals: number;
  readonly closes: number;
}

/** One tick: every page of subscribers, planned and enqueued. */
export async function runTick(source: SubscriberSource, queues: RatingQueues, now: number, options: TickOptions): Promise<TickSummary> {
  let afterId: string | null = null;
  let subscribers = 0;
  let accruals = 0;
  let closes = 0;
  for (;;) {
    const page = await source.page(afterId, options.chunkSize);
    if (page.length === 0) break;
    const plan = planTick(page, now, options);
    await queues.addMany('accrue', plan.accrue);
    await queues.addMany('close', plan.close);
    subscribers += page.length;
    accruals += plan.accrue.length;
    closes += plan.close.length;
    afterId = page[page.length - 1].id;
    if (page.length < options.chunkSize) break;
  }
  return { subscribers, accruals, closes };
}

export interface SchedulerOptions extends TickOptions {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly source: SubscriberSource;
  readonly queues: RatingQueues;
  readonly now?: () => number;
  readonly log?: JobLogger;
}

export interface Scheduler {
  readonly worker: Worker;
  readonly queue: Queue;
  close(): Promise<void>;
}

/** The job scheduler's id: upserting it again (every process start) replaces, never duplicates. */
export const TICK_SCHEDULER_ID = 'rating-tick';

export async function startScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const log = options.log ?? SILENT_LOGGER;
  const now = options.now ?? Date.now;
  const queue = new Queue(SCHEDULE_QUEUE, { connection: options.connection, prefix: options.prefix });
  await queue.upsertJobScheduler(
    TICK_SCHEDULER_ID,
    { every: options.accrualEveryMs },
    // Failed ticks are kept a week (each names its error); the next tick redoes their work anyway.
    { name: 'tick', opts: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: { count: 100 }, removeOnFail: { age: 7 * 24 * 3600 } } },
  );
  const worker = new Worker(
    SCHEDULE_QUEUE,
    async () => {
      const summary = await runTick(options.source, options.queues, now(), options);
      log.info({ ...summary }, 'scheduler tick enqueued');
      return summary;
    },
    { connection: options.connection, prefix: options.prefix, concurrency: 1 },
  );
  worker.on('error', (error) => log.error({ queue: SCHEDULE_QUEUE, err: error }, 'scheduler worker error'));
  worker.on('failed', (job, error) => log.error({ jobId: job?.id, err: error }, 'scheduler tick failed'));
  return {
    worker,
    queue,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
