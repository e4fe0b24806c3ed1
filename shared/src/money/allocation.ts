import { Decimal, toDecimal, sumDecimals, type DecimalInput } from './decimal.js';
import { minorUnitDigits } from './currency.js';
import { money, type Money } from './money.js';

/**
 * Largest-remainder apportionment.
 *
 * Rounds each exact part to `places` decimals so that the rounded parts add up
 * to exactly `total`: every part is first rounded down (towards −∞), then the
 * minor units still missing go one each to the parts that lost the most in
 * that first step. Ties go to the earlier part, so the result depends only on
 * the input order and never on sort stability or floating point.
 *
 * `total` is normally the rounded sum of the exact parts; it must lie within
 * one minor unit per part of that sum, otherwise no such rounding exists.
 */
export function apportionToTotal(exactParts: readonly DecimalInput[], total: DecimalInput, places: number): Decimal[] {
  const scale = new Decimal(10).pow(places);
  const totalUnits = toDecimal(total).times(scale);
  if (!totalUnits.isInteger()) {
    throw new RangeError(`Total ${toDecimal(total).toFixed()} has more than ${places} decimal places`);
  }
  const scaledParts = exactParts.map((part) => toDecimal(part).times(scale));
  const floors = scaledParts.map((part) => part.floor());
  const leftover = totalUnits.minus(sumDecimals(floors));
  if (leftover.isNegative() || leftover.greaterThan(scaledParts.length)) {
    throw new RangeError(
      `Cannot apportion ${toDecimal(total).toFixed()} over parts summing to ${sumDecimals(scaledParts).dividedBy(scale).toFixed()}: they differ by more than one minor unit per part`,
    );
  }
  const byLargestRemainder = scaledParts
    .map((part, index) => ({ index, remainder: part.minus(floors[index]) }))
    .sort((left, right) => right.remainder.comparedTo(left.remainder) || left.index - right.index);
  const extraUnit = new Set(byLargestRemainder.slice(0, leftover.toNumber()).map((entry) => entry.index));
  return floors.map((floor, index) => (extraUnit.has(index) ? floor.plus(1) : floor).dividedBy(scale));
}

/**
 * Splits `total` across `weights` (non-negative, not all zero) so the parts are
 * proportional to the weights up to one minor unit and sum exactly to `total`.
 */
export function allocateByWeights(total: DecimalInput, weights: readonly DecimalInput[], places: number): Decimal[] {
  const exactTotal = toDecimal(total);
  const decimalWeights = weights.map((weight) => toDecimal(weight));
  if (decimalWeights.some((weight) => weight.isNegative())) {
    throw new RangeError('Allocation weights must not be negative');
  }
  const weightSum = sumDecimals(decimalWeights);
  if (weightSum.isZero()) {
    if (exactTotal.isZero()) return decimalWeights.map(() => new Decimal(0));
    throw new RangeError(`Cannot allocate ${exactTotal.toFixed()} over weights that are all zero`);
  }
  const exactParts = decimalWeights.map((weight) => exactTotal.times(weight).dividedBy(weightSum));
  return apportionToTotal(exactParts, exactTotal, places);
}

/** `allocateByWeights` for money: parts in the same currency, rounded to its minor unit. */
export function allocateMoney(total: Money, weights: readonly DecimalInput[]): Money[] {
  return allocateByWeights(total.amount, weights, minorUnitDigits(total.currency)).map((part) => money(part, total.currency));
}
