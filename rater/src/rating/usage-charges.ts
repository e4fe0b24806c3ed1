import { Decimal, ZERO, apportionToTotal, minorUnitDigits, roundToMinorUnit, sumDecimals } from '@flowbill/shared/money/index';
import { bytesPerUnit, measureUsage } from '../tariff/data-units.js';
import { priceUsage } from '../tariff/price-tiers.js';
import type { UsageCharge } from '../tariff/tariff-schema.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { segmentAllowance } from './allowance.js';
import type { RatedLine, TierRow } from './rated-line.js';
import { segmentLabel, type SegmentContext } from './segment-context.js';
import { findUsageCharge } from './usage-matching.js';

export interface UsageRating {
  lines: RatedLine[];
  /** Buckets of the segment that no usage charge of its tariff describes. */
  unmatched: UsageBucket[];
}

/** Tier rows with the rounded line amount shared out by largest remainder, so the rows add up to the line. */
function tierRows(context: SegmentContext, billableUnits: Decimal, charge: UsageCharge): { rows: TierRow[]; amount: Decimal } {
  const { currency, rounding } = context.tariff;
  const tierCharges = priceUsage(billableUnits, charge.pricing);
  const exactAmounts = tierCharges.map((tier) => tier.exactAmount);
  const amount = roundToMinorUnit(sumDecimals(exactAmounts), currency, rounding);
  const shares = tierCharges.length === 0 ? [] : apportionToTotal(exactAmounts, amount, minorUnitDigits(currency));
  return { rows: tierCharges.map((tier, index) => ({ ...tier, amount: shares[index] })), amount };
}

function rateCharge(context: SegmentContext, charge: UsageCharge, buckets: readonly UsageBucket[]): RatedLine {
  const { tariff, period } = context;
  const { bytes, units } = measureUsage(
    buckets.map((bucket) => bucket.bytes),
    charge.measure,
  );
  const isFree = charge.pricing.kind === 'free';
  const includedUnits = isFree ? ZERO : segmentAllowance(charge.includedUnits, context);
  const billableUnits = Decimal.max(ZERO, units.minus(includedUnits));
  const { rows, amount } = tierRows(context, billableUnits, charge);
  const singlePrice = isFree ? ZERO : rows.length === 1 ? rows[0].unitPrice : null;
  return {
    id: `${segmentLabel(context)}/usage/${charge.id}`,
    kind: 'usage',
    description: charge.name,
    segmentIndex: context.segmentIndex,
    tariff: { id: tariff.id, version: tariff.version },
    chargeId: charge.id,
    coverageStart: context.start,
    coverageEnd: context.end,
    billableAt: period.end,
    timing: 'arrears',
    quantity: billableUnits,
    unit: charge.measure.unit,
    unitPrice: singlePrice,
    amount,
    trafficClass: charge.class,
    direction: charge.direction,
    usage: {
      timeWindow: charge.timeWindow?.name ?? null,
      bucketCount: buckets.length,
      bytes,
      unitBytes: bytesPerUnit(charge.measure.unit, charge.measure.base),
      rounding: charge.measure.rounding,
      roundingScope: charge.measure.roundingScope,
      measuredUnits: units,
      includedUnits,
      billableUnits,
    },
    tiers: rows,
  };
}

/**
 * Prices the segment's usage: each bucket goes to the first matching charge
 * (by its start time in the subscriber's zone), then each charge's buckets are
 * measured, the included allowance is taken off and the rest priced by tier.
 * A charge with no buckets yields no line.
 */
export function rateUsageCharges(context: SegmentContext, buckets: readonly UsageBucket[]): UsageRating {
  const bucketsByCharge = new Map<string, UsageBucket[]>();
  const unmatched: UsageBucket[] = [];
  for (const bucket of buckets) {
    const charge = findUsageCharge(context.tariff, bucket, context.period.timeZone);
    if (!charge) {
      unmatched.push(bucket);
      continue;
    }
    const matched = bucketsByCharge.get(charge.id) ?? [];
    matched.push(bucket);
    bucketsByCharge.set(charge.id, matched);
  }
  // Tariff order, not bucket order, so the same usage always produces the same line order.
  const lines = context.tariff.usageCharges
    .filter((charge) => bucketsByCharge.has(charge.id))
    .map((charge) => rateCharge(context, charge, bucketsByCharge.get(charge.id) as UsageBucket[]));
  return { lines, unmatched };
}
