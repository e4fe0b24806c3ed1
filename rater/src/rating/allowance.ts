import { Decimal } from '@flowbill/shared/money/index';
import { spanLength } from '../period/proration.js';
import type { SegmentContext } from './segment-context.js';
import { tariffDecimal } from '../tariff/tariff-decimals.js';

/**
 * A per-period allowance (included units, fair-usage threshold) for the
 * segment: shrunk in proportion to the part of the period the segment covers
 * when the tariff prorates allowances, and then rounded up to the precision
 * the tariff wrote it with (10 GB stays in whole GB), in the subscriber's
 * favour and never above the full allowance.
 */
export function segmentAllowance(fullAllowance: string, context: SegmentContext): Decimal {
  const full = tariffDecimal(fullAllowance);
  if (context.tariff.allowanceProration === 'full') return full;
  const basis = context.tariff.proration;
  const covered = spanLength(context.start, context.end, basis, context.period.timeZone);
  const whole = spanLength(context.period.start, context.period.end, basis, context.period.timeZone);
  if (covered === whole) return full;
  return full.times(covered).dividedBy(whole).toDecimalPlaces(full.decimalPlaces(), Decimal.ROUND_UP);
}
