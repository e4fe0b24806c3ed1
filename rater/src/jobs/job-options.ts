/**
 * Retry and retention per job kind.
 *
 * - Retries: exponential backoff (delay, 2×delay, 4×delay, ...) up to `attempts` runs;
 *   every handler is idempotent, so a retry after a partial run is safe.
 * - Failed jobs are never removed (`removeOnFail: false`): after the last attempt a job
 *   stays in the failed set with its error and stack until someone retries it
 *   (`rater jobs retry`) or removes it. A failed job also keeps its id, so the scheduler
 *   cannot silently re-add the same work behind the operator's back.
 * - Completed jobs are kept for a while so that re-adding the same id is a no-op:
 *   closes and finalizes long enough to cover the grace period and the scheduler's
 *   catch-up window; accruals briefly (a new slot has a new id anyway, and a repeated
 *   accrual is idempotent).
 */
import type { JobsOptions } from 'bullmq';
import type { JobKind } from './job-types.js';

export interface RetryPolicy {
  /** Runs per job, the first included. */
  readonly attempts: number;
  /** First backoff; doubled after every failed attempt. */
  readonly backoffMs: number;
}

const DAY_S = 24 * 3600;

/** How long (seconds) and how many completed jobs each queue keeps. */
export const COMPLETED_RETENTION: Record<JobKind, { age: number; count: number }> = {
  accrue: { age: 3600, count: 200_000 },
  close: { age: 62 * DAY_S, count: 2_000_000 },
  finalize: { age: 62 * DAY_S, count: 2_000_000 },
  lateUsage: { age: 62 * DAY_S, count: 2_000_000 },
  rerate: { age: 31 * DAY_S, count: 100_000 },
  mirror: { age: 7 * DAY_S, count: 200_000 },
};

export function jobOptionsFor(kind: JobKind, policy: RetryPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs },
    removeOnComplete: COMPLETED_RETENTION[kind],
    removeOnFail: false,
  };
}
