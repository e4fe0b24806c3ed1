/**
 * What one scheduler tick enqueues for one subscriber: pure, so the timing rules are
 * tested without Redis.
 *
 * - an accrual of the open period as of the tick's slot (the slot is the id, so two
 *   ticks in one slot, or a retried tick, add it once);
 * - the close of the open period, delayed until the period's end in the subscriber's
 *   zone (re-added by every tick: a no-op while it exists, a repair if Redis lost it);
 * - the close of the previous period while it may still be waiting, i.e. until its
 *   end plus the grace period (catch-up for a subscriber whose delayed close was never
 *   added, e.g. created and ended within one tick gap). Later than that, the close is
 *   long done or failed and visible.
 *
 * Finalize, late-usage checks and mirroring are chained by the handlers once the step
 * before them succeeded (see billing-handlers.ts), so each runs only after its
 * precondition holds, and at its own delay.
 */
import { billingPeriodContaining } from '../period/billing-period.js';
import type { BillingCycle } from '../subscription/subscription-schema.js';
import type { JobData } from './job-types.js';

export interface ScheduledSubscriber {
  readonly id: string;
  readonly timeZone: string;
  readonly billingCycle: BillingCycle;
}

export interface TickPlan {
  readonly accrue: { data: JobData['accrue'] }[];
  readonly close: { data: JobData['close']; at?: number }[];
}

/** Start of the accrual slot containing `now`: slots are aligned to multiples of `everyMs` since the epoch. */
export function accrualSlot(now: number, everyMs: number): number {
  return Math.floor(now / everyMs) * everyMs;
}

export function planTick(subscribers: readonly ScheduledSubscriber[], now: number, options: { accrualEveryMs: number; graceMs: number }): TickPlan {
  const slot = accrualSlot(now, options.accrualEveryMs);
  const plan: { accrue: TickPlan['accrue'][number][]; close: TickPlan['close'][number][] } = { accrue: [], close: [] };
  for (const subscriber of subscribers) {
    const open = billingPeriodContaining(slot, subscriber.billingCycle, subscriber.timeZone);
    plan.accrue.push({ data: { subscriberId: subscriber.id, periodKey: open.key, asOf: new Date(slot).toISOString() } });
    plan.close.push({ data: { subscriberId: subscriber.id, periodKey: open.key }, at: open.end });
    const previous = billingPeriodContaining(open.start - 1, subscriber.billingCycle, subscriber.timeZone);
    if (now < previous.end + options.graceMs) plan.close.push({ data: { subscriberId: subscriber.id, periodKey: previous.key } });
  }
  return plan;
}
