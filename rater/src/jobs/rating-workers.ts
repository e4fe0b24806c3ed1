/**
 * The consumer side: one BullMQ Worker per job kind, each calling its handler with the
 * validated payload.
 *
 * Crash safety comes from BullMQ's job lock: a worker holds a lock on an active job and
 * renews it every lockDuration/2. If the process dies (kill -9, OOM, lost host) the
 * lock expires after `lockDurationMs`; the stalled check of any live worker (every
 * `stalledIntervalMs`) then moves the job back to waiting and another worker runs it
 * again. A job that stalls more than `maxStalledCount` times is failed (visible), not
 * retried forever. Handlers are idempotent, so the re-run converges on the same state.
 */
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { ZodError } from 'zod';
import { JOB_KINDS, QUEUE_NAMES, parseJobData, type JobData, type JobKind } from './job-types.js';
import type { RatingQueues } from './rating-queues.js';

export interface JobLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export const SILENT_LOGGER: JobLogger = { info() {}, warn() {}, error() {} };

export interface JobContext {
  readonly job: Job;
  /** Where handlers enqueue the next step (close -> finalize -> late usage, mirror). */
  readonly queues: RatingQueues;
  readonly log: JobLogger;
  /**
   * The work is not due yet (a close that ran before its period ended, a finalize
   * inside the grace period): put this same job back as delayed until `at`. Does not
   * count as a failed attempt.
   */
  deferUntil(at: number): Promise<never>;
}

export type JobHandler<K extends JobKind> = (data: JobData[K], context: JobContext) => Promise<unknown>;
export type RatingJobHandlers = { [K in JobKind]: JobHandler<K> };

export interface RatingWorkersOptions {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly handlers: RatingJobHandlers;
  readonly queues: RatingQueues;
  /** Jobs run at once per queue; one number for all, or per kind. */
  readonly concurrency?: number | Partial<Record<JobKind, number>>;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
  /** Only these kinds (default all). */
  readonly kinds?: readonly JobKind[];
  readonly log?: JobLogger;
}

export interface RatingWorkers {
  readonly workers: readonly Worker[];
  /** Resolves once every worker is connected and polling. */
  waitUntilReady(): Promise<void>;
  /** Stop taking jobs and wait for the active ones to finish (graceful), or drop them (`force`). */
  close(force?: boolean): Promise<void>;
}

export function startRatingWorkers(options: RatingWorkersOptions): RatingWorkers {
  const log = options.log ?? SILENT_LOGGER;
  const kinds = options.kinds ?? JOB_KINDS;
  const workers = kinds.map((kind) => {
    const concurrency = typeof options.concurrency === 'number' ? options.concurrency : (options.concurrency?.[kind] ?? 1);
    const worker = new Worker(QUEUE_NAMES[kind], (job, token) => runJob(kind, job, token, options, log), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 2,
    });
    worker.on('failed', (job, error) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
      (final ? log.error : log.warn).call(log, { queue: QUEUE_NAMES[kind], jobId: job.id, attemptsMade: job.attemptsMade, err: error }, final ? 'job failed for good' : 'job attempt failed, will retry');
    });
    worker.on('stalled', (jobId) => log.warn({ queue: QUEUE_NAMES[kind], jobId }, 'job stalled (its worker died or blocked); moved back to waiting'));
    // BullMQ emits connection errors here; without a listener Node would throw them.
    worker.on('error', (error) => log.error({ queue: QUEUE_NAMES[kind], err: error }, 'worker error'));
    return worker;
  });
  return {
    workers,
    async waitUntilReady() {
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },
    async close(force = false) {
      await Promise.all(workers.map((worker) => worker.close(force)));
    },
  };
}

async function runJob(kind: JobKind, job: Job, token: string | undefined, options: RatingWorkersOptions, log: JobLogger): Promise<unknown> {
  let data: JobData[typeof kind];
  try {
    data = parseJobData(kind, job.data);
  } catch (error) {
    // Retrying a malformed payload cannot help: fail it now, visibly.
    const detail = error instanceof ZodError ? error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') : String(error);
    throw new UnrecoverableError(`invalid ${kind} job payload: ${detail}`);
  }
  const context: JobContext = {
    job,
    queues: options.queues,
    log,
    async deferUntil(at) {
      await job.moveToDelayed(at, token);
      throw new DelayedError(`not due until ${new Date(at).toISOString()}`);
    },
  };
  const handler = options.handlers[kind] as JobHandler<typeof kind>;
  return handler(data, context);
}
