import { z } from 'zod';
import { Decimal, isCurrencyCode, isWholeMinorUnits, minorUnitDigits } from '@flowbill/shared/money/index';
import {
  currencyCode,
  identifier,
  nonNegativeDecimalString,
  percentString,
  positiveDecimalString,
  roundingMode,
} from '../schema/primitives.js';

/**
 * A tariff version: everything needed to price one subscriber's billing period.
 * Prices are per billing period (a calendar or anniversary month) and, unless
 * `tax.inclusion` says otherwise, are what the subscriber pays.
 */

export const speedProfileSchema = z.object({
  name: identifier,
  downloadMbps: z.number().positive(),
  uploadMbps: z.number().positive().optional(),
});
export type SpeedProfile = z.infer<typeof speedProfileSchema>;

export const recurringFeeSchema = z.object({
  id: identifier,
  name: z.string().min(1),
  /** Price for one whole billing period, in whole minor units of the tariff currency. */
  price: nonNegativeDecimalString,
  /** `advance`: billed when the period (or the service) starts, unused time credited; `arrears`: billed at period end for time used. */
  charge: z.enum(['advance', 'arrears']).default('advance'),
  /** `daily`: the period price is split over the period's calendar days and each day of service is a separate line. */
  spread: z.enum(['period', 'daily']).default('period'),
});
export type RecurringFee = z.infer<typeof recurringFeeSchema>;

export const DATA_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;
export type DataUnit = (typeof DATA_UNITS)[number];

export const usageMeasureSchema = z.object({
  unit: z.enum(DATA_UNITS),
  /** `decimal`: 1 MB = 10^6 bytes; `binary`: 1 MB = 2^20 bytes. */
  base: z.enum(['decimal', 'binary']).default('decimal'),
  /** `ceil` = "per full or partial unit", `floor` = only whole units count, `exact` = fractional units. */
  rounding: z.enum(['exact', 'ceil', 'floor']).default('exact'),
  /** Whether that rounding applies to the period total or to each usage bucket before summing. */
  roundingScope: z.enum(['period', 'bucket']).default('period'),
});
export type UsageMeasure = z.infer<typeof usageMeasureSchema>;

export const priceTierSchema = z.object({
  /** Upper bound (inclusive) of the tier in billable units; null for the last, unbounded tier. */
  upTo: positiveDecimalString.nullable(),
  unitPrice: nonNegativeDecimalString,
});
export type PriceTier = z.infer<typeof priceTierSchema>;

const tierListSchema = z
  .array(priceTierSchema)
  .min(1)
  .superRefine((tiers, context) => {
    tiers.forEach((tier, index) => {
      const isLast = index === tiers.length - 1;
      if (isLast && tier.upTo !== null) {
        context.addIssue({ code: 'custom', path: [index, 'upTo'], message: 'the last tier must be unbounded (upTo: null)' });
      }
      if (!isLast && tier.upTo === null) {
        context.addIssue({ code: 'custom', path: [index, 'upTo'], message: 'only the last tier may be unbounded' });
      }
      const previous = tiers[index - 1];
      if (previous?.upTo != null && tier.upTo !== null && !new Decimal(tier.upTo).greaterThan(previous.upTo)) {
        context.addIssue({ code: 'custom', path: [index, 'upTo'], message: 'tier bounds must increase' });
      }
    });
  });

export const usagePricingSchema = z.discriminatedUnion('kind', [
  /** Counted and shown on the bill, never charged (local / IX traffic, unlimited plans, free night). */
  z.object({ kind: z.literal('free') }),
  /** Each unit is priced at the tier it falls in. */
  z.object({ kind: z.literal('graduated'), tiers: tierListSchema }),
  /** All units are priced at the tier the total falls in. */
  z.object({ kind: z.literal('volume'), tiers: tierListSchema }),
]);
export type UsagePricing = z.infer<typeof usagePricingSchema>;

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time "HH:MM"');

export const timeWindowSchema = z
  .object({
    name: identifier,
    /** Local time in the subscriber's zone; a window whose `to` is earlier than `from` wraps past midnight. */
    from: clockTime,
    to: clockTime,
    /** ISO weekdays (1 = Monday … 7 = Sunday) of the bucket's start; all days when absent. */
    daysOfWeek: z.array(z.number().int().min(1).max(7)).min(1).optional(),
  })
  .refine((window) => window.from !== window.to, { error: 'from and to must differ (omit the window to mean the whole day)', path: ['to'] });
export type TimeWindow = z.infer<typeof timeWindowSchema>;

export const TRAFFIC_DIRECTIONS = ['download', 'upload'] as const;
export type TrafficDirection = (typeof TRAFFIC_DIRECTIONS)[number];
export const directionSelector = z.enum(['download', 'upload', 'both']);
export type DirectionSelector = z.infer<typeof directionSelector>;

export const usageChargeSchema = z.object({
  id: identifier,
  name: z.string().min(1),
  class: identifier,
  direction: directionSelector,
  /** When present, only buckets starting inside the window match this charge. */
  timeWindow: timeWindowSchema.optional(),
  measure: usageMeasureSchema,
  /** Units included in the recurring fee each period; tiers start counting after them. */
  includedUnits: nonNegativeDecimalString.default('0'),
  pricing: usagePricingSchema,
});
export type UsageCharge = z.infer<typeof usageChargeSchema>;

export const fairUsageSchema = z.object({
  class: identifier,
  direction: directionSelector,
  measure: usageMeasureSchema.pick({ unit: true, base: true }),
  /** Usage above this many units in a period moves the subscriber to `throttledSpeed`. */
  thresholdUnits: positiveDecimalString,
  throttledSpeed: speedProfileSchema,
});
export type FairUsagePolicy = z.infer<typeof fairUsageSchema>;

const discountBase = {
  id: identifier,
  name: z.string().min(1),
  appliesTo: z.array(z.enum(['recurring', 'usage'])).min(1).default(['recurring', 'usage']),
  /** Number of billing periods the discount lasts, counting the first (possibly partial) one; forever when absent. */
  periods: z.number().int().positive().optional(),
  /** Only for subscriptions that entered this code; the periods count from the one in which it was entered. */
  promoCode: z.string().min(1).optional(),
};

export const discountSchema = z.discriminatedUnion('kind', [
  z.object({ ...discountBase, kind: z.literal('percent'), percent: percentString }),
  /** A fixed amount per period, prorated like a fee and never more than what it discounts. */
  z.object({ ...discountBase, kind: z.literal('fixed'), amount: nonNegativeDecimalString }),
]);
export type Discount = z.infer<typeof discountSchema>;

export const taxRuleSchema = z.object({
  name: z.string().min(1).default('VAT'),
  ratePercent: percentString,
  /** `inclusive`: prices already contain the tax (the Russian retail norm); `exclusive`: tax is added on top. */
  inclusion: z.enum(['inclusive', 'exclusive']),
  rounding: roundingMode.default('half-up'),
});
export type TaxRule = z.infer<typeof taxRuleSchema>;

export const planChangePolicySchema = z.object({
  upgrade: z.enum(['immediate', 'period-end']).default('immediate'),
  downgrade: z.enum(['immediate', 'period-end']).default('period-end'),
});
export type PlanChangeTiming = 'immediate' | 'period-end';

export const tariffSchema = z
  .object({
    id: identifier,
    version: z.number().int().min(1),
    name: z.string().min(1),
    currency: currencyCode.default('RUB'),
    /** Orders tariffs for upgrade/downgrade decisions; without it the sum of recurring fees decides. */
    rank: z.number().int().optional(),
    speed: speedProfileSchema.optional(),
    /** Mode used to round each priced line (quantity × unit price) to the minor unit. */
    rounding: roundingMode.default('half-up'),
    /** How fees, fixed discounts, minimum charges and allowances are prorated over part of a period. */
    proration: z.enum(['day', 'second']).default('day'),
    /** Whether included units and the fair-usage threshold shrink with a partial period. */
    allowanceProration: z.enum(['prorated', 'full']).default('prorated'),
    planChange: planChangePolicySchema.default({ upgrade: 'immediate', downgrade: 'period-end' }),
    recurringFees: z.array(recurringFeeSchema).default([]),
    /** Matched in order: a usage bucket is rated by the first charge whose class, direction and window fit it. */
    usageCharges: z.array(usageChargeSchema).default([]),
    fairUsage: fairUsageSchema.optional(),
    minimumCharge: z.object({ amount: positiveDecimalString }).optional(),
    discounts: z.array(discountSchema).default([]),
    tax: taxRuleSchema.optional(),
  })
  .superRefine((tariff, context) => {
    if (!isCurrencyCode(tariff.currency)) return; // already reported on `currency`
    const requireWholeMinorUnits = (value: string, path: (string | number)[]) => {
      if (!isWholeMinorUnits(value, tariff.currency)) {
        const digits = minorUnitDigits(tariff.currency);
        context.addIssue({ code: 'custom', path, message: `must be a whole amount of ${tariff.currency} minor units (at most ${digits} decimal places)` });
      }
    };
    tariff.recurringFees.forEach((fee, index) => requireWholeMinorUnits(fee.price, ['recurringFees', index, 'price']));
    tariff.discounts.forEach((discount, index) => {
      if (discount.kind === 'fixed') requireWholeMinorUnits(discount.amount, ['discounts', index, 'amount']);
    });
    if (tariff.minimumCharge) requireWholeMinorUnits(tariff.minimumCharge.amount, ['minimumCharge', 'amount']);

    const requireUniqueIds = (items: readonly { id: string }[], collection: string) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.id)) context.addIssue({ code: 'custom', path: [collection, index, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    };
    requireUniqueIds(tariff.recurringFees, 'recurringFees');
    requireUniqueIds(tariff.usageCharges, 'usageCharges');
    requireUniqueIds(tariff.discounts, 'discounts');
  });

export type Tariff = z.infer<typeof tariffSchema>;
/** What a tariff file may contain before defaults are filled in. */
export type TariffInput = z.input<typeof tariffSchema>;
