/**
 * The producer side: one BullMQ Queue per job kind, and `add` with the deterministic id
 * and the kind's retry/retention options, so nobody can enqueue rating work without
 * them. Used by the scheduler, by handlers that chain the next step, and by the CLI.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { jobOptionsFor, type RetryPolicy } from './job-options.js';
import { JOB_KINDS, QUEUE_NAMES, jobIdOf, parseJobData, type JobData, type JobKind } from './job-types.js';

export interface RatingQueuesOptions {
  readonly connection: ConnectionOptions;
  /** BullMQ key prefix (see ratingQueuePrefix). */
  readonly prefix: string;
  readonly retry: RetryPolicy;
  /** Clock for delays; tests pin it. */
  readonly now?: () => number;
}

export interface EnqueueOptions {
  /** Run no earlier than this instant (epoch ms); default now. */
  readonly at?: number;
}

export interface Enqueued {
  readonly kind: JobKind;
  readonly jobId: string;
}

export class RatingQueues {
  private readonly queues: Record<JobKind, Queue>;
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  readonly prefix: string;

  constructor(options: RatingQueuesOptions) {
    this.retry = options.retry;
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix;
    this.queues = Object.fromEntries(
      JOB_KINDS.map((kind) => [kind, new Queue(QUEUE_NAMES[kind], { connection: options.connection, prefix: options.prefix })]),
    ) as Record<JobKind, Queue>;
  }

  queue(kind: JobKind): Queue {
    return this.queues[kind];
  }

  /**
   * Add one job. If a job with the same id exists (in any state BullMQ still holds it
   * in), nothing is added: that is what makes a duplicated enqueue run once.
   */
  async add<K extends JobKind>(kind: K, data: JobData[K], options: EnqueueOptions = {}): Promise<Enqueued> {
    const [added] = await this.addMany(kind, [{ data, ...options }]);
    return added;
  }

  /** Add many jobs of one kind in one round trip (the scheduler's fan-out). */
  async addMany<K extends JobKind>(kind: K, jobs: readonly ({ data: JobData[K] } & EnqueueOptions)[]): Promise<Enqueued[]> {
    if (jobs.length === 0) return [];
    const now = this.now();
    const base = jobOptionsFor(kind, this.retry);
    const entries = jobs.map(({ data, at }) => {
      // Validate before it reaches Redis: a bad payload would only fail on a worker later.
      const checked = parseJobData(kind, data);
      const jobId = jobIdOf(kind, checked);
      const delay = at === undefined ? 0 : Math.max(0, at - now);
      return { name: kind, data: checked, opts: { ...base, jobId, ...(delay > 0 ? { delay } : {}) } };
    });
    await this.queues[kind].addBulk(entries);
    return entries.map((entry) => ({ kind, jobId: entry.opts.jobId }));
  }

  async close(): Promise<void> {
    await Promise.all(JOB_KINDS.map((kind) => this.queues[kind].close()));
  }
}
