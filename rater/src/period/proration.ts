import { Decimal, roundToMinorUnit, toDecimal, type RoundingMode } from '@flowbill/shared/money/index';
import { localDayNumber, type EpochMillis } from '../time/zoned-time.js';
import type { BillingPeriod } from './billing-period.js';

export type ProrationBasis = 'day' | 'second';

/**
 * Length of [from, to) in whole local calendar days or whole seconds.
 * By day, an interval is measured from the calendar day containing `from` to
 * the one containing `to`: the day on which a change happens belongs to the
 * state after the change (an upgrade on the 15th bills the 15th at the new
 * plan; a termination on the 20th does not bill the 20th).
 */
export function spanLength(from: EpochMillis, to: EpochMillis, basis: ProrationBasis, timeZone: string): number {
  if (basis === 'day') return localDayNumber(to, timeZone) - localDayNumber(from, timeZone);
  return Math.floor(to / 1000) - Math.floor(from / 1000);
}

export interface ProratedAmount {
  amount: Decimal;
  /** Days or seconds of [from, to) and of the whole period: the exact proration fraction. */
  coveredUnits: number;
  periodUnits: number;
}

/**
 * The part of `fullAmount` that covers [from, period end), rounded to the minor
 * unit. Used for advance charges (billed when the service starts) and credits
 * (refunded when it stops early).
 */
export function remainingPeriodAmount(
  fullAmount: Decimal,
  from: EpochMillis,
  period: BillingPeriod,
  basis: ProrationBasis,
  currency: string,
  mode: RoundingMode,
): ProratedAmount {
  const coveredUnits = spanLength(from, period.end, basis, period.timeZone);
  const periodUnits = spanLength(period.start, period.end, basis, period.timeZone);
  const exact = fullAmount.times(coveredUnits).dividedBy(periodUnits);
  return { amount: roundToMinorUnit(exact, currency, mode), coveredUnits, periodUnits };
}

/**
 * The part of `fullAmount` that covers [from, to) inside the period, defined as
 * (amount remaining from `from`) − (amount remaining from `to`). Because every
 * part is a difference of the same rounded "remaining" values, the parts of
 * any split of the period telescope to exactly `fullAmount`: a plan change or
 * a daily spread can never gain or lose a kopeck.
 */
export function proratedAmount(
  fullAmount: Decimal,
  from: EpochMillis,
  to: EpochMillis,
  period: BillingPeriod,
  basis: ProrationBasis,
  currency: string,
  mode: RoundingMode,
): ProratedAmount {
  const head = remainingPeriodAmount(fullAmount, from, period, basis, currency, mode);
  const tail = remainingPeriodAmount(fullAmount, to, period, basis, currency, mode);
  return { amount: head.amount.minus(tail.amount), coveredUnits: head.coveredUnits - tail.coveredUnits, periodUnits: head.periodUnits };
}

/** The covered share of the period as a decimal; informative, the amount is computed by `proratedAmount`. */
export function coveredFraction(coveredUnits: number, periodUnits: number): Decimal {
  return toDecimal(coveredUnits).dividedBy(toDecimal(periodUnits));
}
