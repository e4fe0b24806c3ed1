import { sumDecimals, toDecimal } from '@flowbill/shared/money/index';
import { proratedAmount } from '../period/proration.js';
import type { RatedLine } from './rated-line.js';
import { segmentLabel, type SegmentContext } from './segment-context.js';
import { tariffDecimal } from '../tariff/tariff-decimals.js';

/**
 * A top-up line when the segment's lines (after discounts, before tax) come
 * to less than the tariff's minimum charge. The minimum is per period and is
 * prorated like a fee when the segment covers only part of the period.
 */
export function rateMinimumCharge(context: SegmentContext, segmentLines: readonly RatedLine[]): RatedLine[] {
  const { tariff, period } = context;
  if (!tariff.minimumCharge) return [];
  const minimum = proratedAmount(tariffDecimal(tariff.minimumCharge.amount), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  const charged = sumDecimals(segmentLines.map((line) => line.amount));
  if (minimum.amount.isZero() || !charged.lessThan(minimum.amount)) return [];
  return [
    {
      id: `${segmentLabel(context)}/minimum-charge`,
      kind: 'minimum-charge',
      description: `Top-up to the minimum charge of ${minimum.amount.toFixed()} ${tariff.currency}`,
      segmentIndex: context.segmentIndex,
      tariff: { id: tariff.id, version: tariff.version },
      chargeId: 'minimum-charge',
      coverageStart: context.start,
      coverageEnd: context.end,
      billableAt: period.end,
      timing: 'arrears',
      quantity: toDecimal(1),
      unit: 'top-up',
      unitPrice: null,
      amount: minimum.amount.minus(charged),
      ...(minimum.coveredUnits === minimum.periodUnits
        ? {}
        : { proration: { basis: tariff.proration, coveredUnits: minimum.coveredUnits, periodUnits: minimum.periodUnits } }),
    },
  ];
}
