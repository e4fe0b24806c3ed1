import { billingPeriodContaining, periodOrdinal } from '../period/billing-period.js';
import type { Subscription } from '../subscription/subscription-schema.js';
import type { Discount } from '../tariff/tariff-schema.js';

export interface ActiveDiscount {
  discount: Discount;
  /** 1 for the first period the discount applies in. */
  periodNumber: number;
}

/**
 * Whether a discount applies in the period `periodKey`, and which of its
 * periods this is. Periods count from the one in which the subscription was
 * activated, or, for a promo code, the one in which the code was entered
 * (its earliest entry, so re-entering a code does not restart a promotion);
 * that first period counts even when it is partial.
 */
export function activeDiscount(discount: Discount, subscription: Subscription, periodKey: string): ActiveDiscount | null {
  let startsAt = subscription.activatedAt;
  if (discount.promoCode !== undefined) {
    const entries = subscription.promoCodes.filter((entry) => entry.code === discount.promoCode).map((entry) => entry.appliedAt);
    if (entries.length === 0) return null;
    startsAt = Math.min(...entries);
  }
  const firstPeriod = billingPeriodContaining(startsAt, subscription.billingCycle, subscription.timeZone);
  const periodNumber = periodOrdinal(periodKey) - periodOrdinal(firstPeriod.key) + 1;
  if (periodNumber < 1) return null;
  if (discount.periods !== undefined && periodNumber > discount.periods) return null;
  return { discount, periodNumber };
}
