import { z } from 'zod';
import { ianaTimeZone, identifier, instant, tariffRef } from '../schema/primitives.js';

export const billingCycleSchema = z.discriminatedUnion('kind', [
  /** Periods run from the 1st of a month to the 1st of the next, at local midnight. */
  z.object({ kind: z.literal('calendar-month') }),
  /** Periods start on `anchorDay` of each month; in shorter months an anchor of 29–31 falls on the month's last day. */
  z.object({ kind: z.literal('anniversary'), anchorDay: z.number().int().min(1).max(31) }),
]);
export type BillingCycle = z.infer<typeof billingCycleSchema>;

export const planChangeRequestSchema = z.object({
  requestedAt: instant,
  tariff: tariffRef,
  /** Overrides the current tariff's upgrade/downgrade policy for this one change. */
  effective: z.enum(['immediate', 'period-end']).optional(),
});
export type PlanChangeRequest = z.infer<typeof planChangeRequestSchema>;

export const subscriptionSchema = z
  .object({
    subscriberId: identifier,
    /** The subscriber's IANA zone: period boundaries, calendar days and night windows are local to it. */
    timeZone: ianaTimeZone,
    billingCycle: billingCycleSchema.default({ kind: 'calendar-month' }),
    activatedAt: instant,
    terminatedAt: instant.optional(),
    tariff: tariffRef,
    planChanges: z.array(planChangeRequestSchema).default([]),
    promoCodes: z.array(z.object({ code: z.string().min(1), appliedAt: instant })).default([]),
  })
  .superRefine((subscription, context) => {
    if (subscription.terminatedAt !== undefined && subscription.terminatedAt <= subscription.activatedAt) {
      context.addIssue({ code: 'custom', path: ['terminatedAt'], message: 'must be after activatedAt' });
    }
    subscription.planChanges.forEach((change, index) => {
      if (change.requestedAt < subscription.activatedAt) {
        context.addIssue({ code: 'custom', path: ['planChanges', index, 'requestedAt'], message: 'must not be before activatedAt' });
      }
    });
  });
export type Subscription = z.infer<typeof subscriptionSchema>;
export type SubscriptionInput = z.input<typeof subscriptionSchema>;
