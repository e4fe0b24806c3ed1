/**
 * Validation of the usage query. Bounds are half-open [from, to) and must fall on
 * bucket boundaries of the chosen step: ClickHouse rollups hold whole UTC hours and
 * days, so a bound inside a bucket could only be answered by silently widening or
 * narrowing the range, and a billing client would never notice.
 */
import { z } from 'zod';
import { DATETIME_MAX_SECONDS } from '@flowbill/shared/clickhouse/sql';
import { MAX_RANGE, STEP_BOUNDARY, STEP_MS, STEPS } from './steps.js';

const DATETIME_MAX_MS = DATETIME_MAX_SECONDS * 1000;

const instant = (name: 'from' | 'to', role: string) =>
  z.iso
    .datetime({
      offset: true,
      error: (issue) =>
        issue.input === undefined
          ? `${name} is required (${role})`
          : `${name} must be a valid ISO 8601 date-time with an offset, e.g. 2026-03-01T00:00:00Z or 2026-03-01T03:00:00+03:00`,
    })
    .describe(`${role}; ISO 8601 with an offset (Z or ±hh:mm), on a bucket boundary of the step`);

export const usageQuery = z
  .object({
    from: instant('from', 'start of the range, inclusive'),
    to: instant('to', 'end of the range, exclusive'),
    step: z
      .enum(STEPS, {
        error: (issue) => (issue.input === undefined ? 'step is required: 1m, 1h or 1d' : 'step must be one of 1m, 1h, 1d'),
      })
      .describe('Bucket size: 1m (ranges up to 2 days), 1h (up to 93 days), 1d (up to 3 years); buckets are UTC'),
  })
  .superRefine((query, ctx) => {
    const from = Date.parse(query.from);
    const to = Date.parse(query.to);
    const stepMs = STEP_MS[query.step];
    if (from % stepMs !== 0) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: `from must be ${STEP_BOUNDARY[query.step]} for step=${query.step}` });
    }
    if (to % stepMs !== 0) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `to must be ${STEP_BOUNDARY[query.step]} for step=${query.step}` });
    }
    // ClickHouse DateTime is a UInt32 of epoch seconds: nothing exists outside it.
    if (from < 0) ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must not be before 1970-01-01T00:00:00Z' });
    if (to > DATETIME_MAX_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: `to must not be after ${new Date(DATETIME_MAX_MS).toISOString()}` });
    if (to <= from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be later than from (the range is [from, to))' });
      return;
    }
    const limit = MAX_RANGE[query.step];
    if (to - from > limit.ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the range from..to may span at most ${limit.text} with step=${query.step}; use a larger step or a shorter range`,
      });
    }
    // Only once every field is valid: cross-field messages about a malformed value would
    // only bury the real problem.
  }, { when: (payload) => payload.issues.length === 0 });

export type UsageQuery = z.infer<typeof usageQuery>;

/** The subscriber id charset of PostgreSQL's subscribers_id_charset constraint. */
export const subscriberIdParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
    .describe('Subscriber id'),
});
