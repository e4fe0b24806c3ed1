// The named export: under NodeNext the package's CommonJS-style typings make the default import mistyped.
import { Decimal as DecimalJs } from 'decimal.js';

/**
 * The one Decimal constructor all money code uses.
 *
 * It is a private clone so that no other module can change its precision or
 * rounding through the global `Decimal.set`. 50 significant digits keeps every
 * intermediate value (a fee times a proration fraction, bytes over 2^30, a tax
 * share) far more precise than the minor unit it is finally rounded to, and the
 * exponent limits make `toString()` never switch to exponential notation.
 */
export const Decimal = DecimalJs.clone({
  precision: 50,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -100,
  toExpPos: 100,
});
export type Decimal = DecimalJs;
/** decimal.js rounding constant (0–8), for the few places that call decimal.js rounding directly. */
export type DecimalRounding = DecimalJs.Rounding;

/**
 * Values accepted where an exact quantity is expected. A JS number is accepted
 * only when it is a safe integer (a count of days, a weight, a tier index):
 * a fractional number has already lost precision before we could see it.
 */
export type DecimalInput = string | bigint | number | DecimalJs;

export function toDecimal(value: DecimalInput): Decimal {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new TypeError(`Refusing to build an exact decimal from the JS number ${value}; pass a decimal string or bigint instead`);
  }
  const decimal = new Decimal(value);
  if (!decimal.isFinite()) {
    throw new RangeError(`Not a finite decimal: ${String(value)}`);
  }
  return decimal;
}

export const ZERO: Decimal = new Decimal(0);

export function sumDecimals(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const value of values) total = total.plus(value);
  return total;
}
