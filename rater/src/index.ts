/**
 * @flowbill/rater: the pure rating core. Given tariff versions, a subscription
 * timeline, usage buckets and a billing period it returns priced line items.
 * It owns pricing only: it reads no flows and writes to no store.
 */
export { ratePeriod, type RatingRequest, type RatingResult } from './rating/rate-period.js';
export type { LineItem } from './rating/line-item.js';
export type { FairUsageEvent } from './rating/fair-usage.js';
export type { UnratedUsage } from './rating/unrated-usage.js';
export { RatingInputError } from './rating/rating-input-error.js';
export { InputValidationError, formatIssues, parseSubscription, parseTariff, parseTariffs, parseUsage } from './input/parse-inputs.js';
export {
  tariffSchema,
  recurringFeeSchema,
  usageChargeSchema,
  usagePricingSchema,
  discountSchema,
  taxRuleSchema,
  fairUsageSchema,
  type Tariff,
  type TariffInput,
  type RecurringFee,
  type UsageCharge,
  type UsagePricing,
  type Discount,
  type TaxRule,
  type FairUsagePolicy,
  type SpeedProfile,
} from './tariff/tariff-schema.js';
export { subscriptionSchema, billingCycleSchema, type Subscription, type SubscriptionInput, type BillingCycle } from './subscription/subscription-schema.js';
export { usageBucketSchema, usageSchema, type UsageBucket, type UsageBucketInput } from './usage/usage-schema.js';
export { billingPeriodForKey, billingPeriodContaining, type BillingPeriod } from './period/billing-period.js';
export { proratedAmount, remainingPeriodAmount, spanLength, type ProrationBasis } from './period/proration.js';
export { resolveTariffTimeline, type TariffSegment } from './subscription/tariff-timeline.js';
export { TariffCatalogue } from './tariff/tariff-catalogue.js';
export { priceGraduated, priceVolume, priceUsage, type TierCharge } from './tariff/price-tiers.js';
export { bytesPerUnit, bytesToUnits, measureUsage } from './tariff/data-units.js';
