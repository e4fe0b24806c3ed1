/**
 * The scheduler's subscribers, read from PostgreSQL a page at a time (keyset on id, so
 * a page costs the same at the end of 100,000 subscribers as at the start).
 *
 * Included: subscribers with a subscription that is not closed and whose subscription
 * has not ended before `since` (the scheduler passes "now minus the longest period plus
 * the grace period"), so a subscription ended this month still gets its last period
 * accrued and closed. Suspended subscribers stay in: their recurring fees still accrue.
 */
import type { Queryable } from '@flowbill/shared/postgres/index';
import type { ScheduledSubscriber } from './schedule-plan.js';
import type { SubscriberSource } from './scheduler.js';

export function postgresSubscriberSource(db: Queryable, options: { endedWithinMs: number; now?: () => number }): SubscriberSource {
  const now = options.now ?? Date.now;
  return {
    async page(afterId, limit) {
      const { rows } = await db.query<{ id: string; time_zone: string; billing_cycle: 'calendar-month' | 'anniversary'; anchor_day: number | null }>(
        `SELECT s.id, s.time_zone, sub.billing_cycle, sub.anchor_day
         FROM subscribers s JOIN subscriptions sub ON sub.subscriber_id = s.id
         WHERE s.status <> 'closed'
           AND (sub.terminated_at IS NULL OR sub.terminated_at > $3)
           AND ($1::text IS NULL OR s.id > $1)
         ORDER BY s.id
         LIMIT $2`,
        [afterId, limit, new Date(now() - options.endedWithinMs)],
      );
      return rows.map(
        (row): ScheduledSubscriber => ({
          id: row.id,
          timeZone: row.time_zone,
          billingCycle: row.billing_cycle === 'anniversary' ? { kind: 'anniversary', anchorDay: row.anchor_day as number } : { kind: 'calendar-month' },
        }),
      );
    },
  };
}
