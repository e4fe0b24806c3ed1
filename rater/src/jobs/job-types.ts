/**
 * The rating jobs: their queues, payloads and deterministic ids.
 *
 * BullMQ refuses ':' in queue names and in custom job ids (it is the separator of its
 * Redis keys), so queues are `rating-<kind>` and ids use '/' between their parts. '/'
 * cannot occur in a subscriber id (subscribers.id is [A-Za-z0-9._-]) nor in a period
 * key, so an id can never be read two ways.
 */
import { z } from 'zod';

export const JOB_KINDS = ['accrue', 'close', 'finalize', 'lateUsage', 'rerate', 'mirror'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const QUEUE_NAMES: Record<JobKind, string> = {
  accrue: 'rating-accrue',
  close: 'rating-close',
  finalize: 'rating-finalize',
  lateUsage: 'rating-late-usage',
  rerate: 'rating-rerate',
  mirror: 'rating-mirror',
};

/** The queue whose repeatable "tick" job drives the scheduler (scheduler.ts). */
export const SCHEDULE_QUEUE = 'rating-schedule';

export function kindOfQueue(queueName: string): JobKind | undefined {
  return JOB_KINDS.find((kind) => QUEUE_NAMES[kind] === queueName);
}

/** Same rule as the subscribers_id_charset constraint in PostgreSQL. */
const subscriberId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'subscriberId must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
const periodKey = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'periodKey must be YYYY-MM');
/** Ids chosen by people or other services (rerate requests, invoices): plain, no '/' or ':'. */
const plainId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, . _ - (starting with a letter or digit)');

const subscriberPeriod = z.object({ subscriberId, periodKey });

export const jobDataSchemas = {
  /** Running charges of the open period, as of an instant (the scheduler's slot, UTC ISO). */
  accrue: subscriberPeriod.extend({ asOf: z.iso.datetime() }),
  close: subscriberPeriod,
  finalize: subscriberPeriod,
  /** A check for usage that arrived after finalization; `afterHours` names which check it is. */
  lateUsage: subscriberPeriod.extend({ afterHours: z.number().int().min(0).max(24 * 400) }),
  rerate: subscriberPeriod.extend({ reason: z.string().trim().min(1).max(500), requestId: plainId }),
  mirror: z.object({ invoiceId: plainId }),
} satisfies Record<JobKind, z.ZodType>;

export type JobData = { [K in JobKind]: z.infer<(typeof jobDataSchemas)[K]> };

/**
 * The job id of a payload. The same work always gets the same id, so adding it again
 * while BullMQ still holds the first (waiting, delayed, active, completed within its
 * retention, or failed) is a no-op.
 */
export function jobIdOf<K extends JobKind>(kind: K, data: JobData[K]): string {
  switch (kind) {
    case 'accrue': {
      const d = data as JobData['accrue'];
      // Compact UTC instant: 2026-03-15T10:15:00.000Z -> 20260315T101500Z.
      const slot = new Date(d.asOf).toISOString().replace(/[-:]|\.\d{3}/g, '');
      return `accrue/${d.subscriberId}/${d.periodKey}/${slot}`;
    }
    case 'close':
    case 'finalize': {
      const d = data as JobData['close'];
      return `${kind}/${d.subscriberId}/${d.periodKey}`;
    }
    case 'lateUsage': {
      const d = data as JobData['lateUsage'];
      return `late/${d.subscriberId}/${d.periodKey}/${d.afterHours}h`;
    }
    case 'rerate': {
      const d = data as JobData['rerate'];
      return `rerate/${d.subscriberId}/${d.periodKey}/${d.requestId}`;
    }
    case 'mirror':
      return `mirror/${(data as JobData['mirror']).invoiceId}`;
  }
  throw new RangeError(`unknown job kind ${String(kind)}`);
}

/** Validate a payload read back from Redis (or typed by a person in the CLI). */
export function parseJobData<K extends JobKind>(kind: K, data: unknown): JobData[K] {
  return jobDataSchemas[kind].parse(data) as JobData[K];
}
