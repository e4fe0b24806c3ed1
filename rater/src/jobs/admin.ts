/**
 * Operator actions on the rating queues, shared by the CLI and tests: list failed jobs
 * with their errors, retry one, request a re-rate.
 */
import { createHash } from 'node:crypto';
import { JOB_KINDS, QUEUE_NAMES, jobIdOf, type JobKind } from './job-types.js';
import type { RatingQueues } from './rating-queues.js';

export interface FailedJob {
  readonly kind: JobKind;
  readonly queue: string;
  readonly jobId: string;
  readonly data: unknown;
  /** The error of the last attempt. */
  readonly failedReason: string;
  /** Stack of the last attempt (BullMQ keeps one per attempt; the last is the one that counts). */
  readonly stack: string | null;
  readonly attemptsMade: number;
  readonly attempts: number;
  readonly failedAt: string | null;
  readonly createdAt: string;
}

/** Failed jobs of the given kinds (default all), newest first, at most `limit` per kind. */
export async function listFailedJobs(queues: RatingQueues, options: { kinds?: readonly JobKind[]; limit?: number } = {}): Promise<FailedJob[]> {
  const limit = options.limit ?? 100;
  const out: FailedJob[] = [];
  for (const kind of options.kinds ?? JOB_KINDS) {
    const jobs = await queues.queue(kind).getFailed(0, limit - 1);
    for (const job of jobs) {
      if (!job?.id) continue;
      out.push({
        kind,
        queue: QUEUE_NAMES[kind],
        jobId: job.id,
        data: job.data,
        failedReason: job.failedReason ?? '',
        stack: job.stacktrace?.length ? job.stacktrace[job.stacktrace.length - 1] : null,
        attemptsMade: job.attemptsMade,
        attempts: job.opts.attempts ?? 1,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        createdAt: new Date(job.timestamp).toISOString(),
      });
    }
  }
  return out.sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? ''));
}

/** Move a failed job back to waiting with fresh attempts; false if there is no such failed job. */
export async function retryFailedJob(queues: RatingQueues, kind: JobKind, jobId: string): Promise<boolean> {
  const job = await queues.queue(kind).getJob(jobId);
  if (!job || (await job.getState()) !== 'failed') return false;
  await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  return true;
}

export interface RerateRequest {
  readonly subscriberId: string;
  readonly periodKey: string;
  readonly reason: string;
  /** Names the request; default: derived from subscriber, period and reason. */
  readonly requestId?: string;
}

export interface RerateOutcome {
  readonly jobId: string;
  readonly requestId: string;
  /** State of an existing job with the same id, or null if this call added it. */
  readonly existing: string | null;
}

/**
 * The default request id makes "the same re-rate asked twice" (a double click, a
 * re-run script) one job, while a different reason or an explicit id is a new request.
 */
export function defaultRerateRequestId(subscriberId: string, periodKey: string, reason: string): string {
  return `r${createHash('sha256').update(`${subscriberId}\n${periodKey}\n${reason.trim()}`).digest('hex').slice(0, 16)}`;
}

export async function requestRerate(queues: RatingQueues, request: RerateRequest): Promise<RerateOutcome> {
  const requestId = request.requestId ?? defaultRerateRequestId(request.subscriberId, request.periodKey, request.reason);
  const data = { subscriberId: request.subscriberId, periodKey: request.periodKey, reason: request.reason.trim(), requestId };
  const jobId = jobIdOf('rerate', data);
  const before = await queues.queue('rerate').getJob(jobId);
  const existing = before ? await before.getState() : null;
  if (existing === null) await queues.add('rerate', data);
  return { jobId, requestId, existing };
}
