import { Decimal, toDecimal, ZERO, type DecimalInput } from './decimal.js';
import { minorUnitDigits, isCurrencyCode, type CurrencyCode } from './currency.js';
import { roundToMinorUnit, type RoundingMode } from './rounding.js';

/**
 * An amount of one currency. The amount is exact (it may carry more digits
 * than the minor unit while a price is being computed); `roundMoney` brings
 * it to the minor unit once the computation is finished.
 */
export interface Money {
  readonly amount: Decimal;
  readonly currency: CurrencyCode;
}

export function money(amount: DecimalInput, currency: string): Money {
  if (!isCurrencyCode(currency)) minorUnitDigits(currency); // throws with the list of known codes
  return Object.freeze({ amount: toDecimal(amount), currency: currency as CurrencyCode });
}

export function zeroMoney(currency: string): Money {
  return money(ZERO, currency);
}

function assertSameCurrency(left: Money, right: Money): void {
  if (left.currency !== right.currency) {
    throw new TypeError(`Cannot combine ${left.currency} with ${right.currency}`);
  }
}

export function addMoney(left: Money, right: Money): Money {
  assertSameCurrency(left, right);
  return money(left.amount.plus(right.amount), left.currency);
}

export function subtractMoney(left: Money, right: Money): Money {
  assertSameCurrency(left, right);
  return money(left.amount.minus(right.amount), left.currency);
}

export function negateMoney(value: Money): Money {
  return money(value.amount.negated(), value.currency);
}

/** Sum of amounts in `currency`; an empty list sums to zero of that currency. */
export function sumMoney(values: Iterable<Money>, currency: string): Money {
  let total = zeroMoney(currency);
  for (const value of values) total = addMoney(total, value);
  return total;
}

/** Exact product; round it with `roundMoney` when the result is final. */
export function multiplyMoney(value: Money, factor: DecimalInput): Money {
  return money(value.amount.times(toDecimal(factor)), value.currency);
}

export function roundMoney(value: Money, mode: RoundingMode): Money {
  return money(roundToMinorUnit(value.amount, value.currency, mode), value.currency);
}

export function moneyEquals(left: Money, right: Money): boolean {
  return left.currency === right.currency && left.amount.equals(right.amount);
}

/**
 * The amount as a string with exactly the currency's minor-unit digits
 * ("800.00" RUB, "1500" JPY, "1.250" KWD). Refuses amounts that still need
 * rounding, so a sub-kopeck value can never be printed as if it were final.
 */
export function formatMoneyAmount(value: Money): string {
  const digits = minorUnitDigits(value.currency);
  if (value.amount.decimalPlaces() > digits) {
    throw new RangeError(`${value.amount.toFixed()} ${value.currency} is not rounded to the minor unit; round it before formatting`);
  }
  return value.amount.toFixed(digits);
}

/** Integer count of minor units (kopecks); the amount must already be rounded. */
export function toMinorUnits(value: Money): bigint {
  const digits = minorUnitDigits(value.currency);
  const scaled = value.amount.times(new Decimal(10).pow(digits));
  if (!scaled.isInteger()) {
    throw new RangeError(`${value.amount.toFixed()} ${value.currency} is not a whole number of minor units`);
  }
  return BigInt(scaled.toFixed(0));
}

export function fromMinorUnits(minorUnits: bigint, currency: string): Money {
  const digits = minorUnitDigits(currency);
  return money(new Decimal(minorUnits.toString()).dividedBy(new Decimal(10).pow(digits)), currency);
}
