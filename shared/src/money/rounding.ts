import { Decimal, toDecimal, type DecimalInput, type DecimalRounding } from './decimal.js';
import { minorUnitDigits } from './currency.js';

/**
 * How an exact amount is brought to the minor unit.
 * - `half-up`: nearest, ties away from zero (the usual commercial rule);
 * - `half-even`: nearest, ties to the even digit (banker's rounding);
 * - `down`: towards zero (truncate);
 * - `up`: away from zero.
 */
export const ROUNDING_MODES = ['half-up', 'half-even', 'down', 'up'] as const;
export type RoundingMode = (typeof ROUNDING_MODES)[number];

const DECIMAL_JS_ROUNDING: Record<RoundingMode, DecimalRounding> = {
  'half-up': Decimal.ROUND_HALF_UP,
  'half-even': Decimal.ROUND_HALF_EVEN,
  down: Decimal.ROUND_DOWN,
  up: Decimal.ROUND_UP,
};

export function roundToDecimalPlaces(value: DecimalInput, places: number, mode: RoundingMode): Decimal {
  if (!Number.isInteger(places) || places < 0) throw new RangeError(`Decimal places must be a non-negative integer, got ${places}`);
  return toDecimal(value).toDecimalPlaces(places, DECIMAL_JS_ROUNDING[mode]);
}

export function roundToMinorUnit(value: DecimalInput, currency: string, mode: RoundingMode): Decimal {
  return roundToDecimalPlaces(value, minorUnitDigits(currency), mode);
}

/** True when the value needs no rounding to be expressed in the currency's minor unit. */
export function isWholeMinorUnits(value: DecimalInput, currency: string): boolean {
  const decimal = toDecimal(value);
  return decimal.decimalPlaces() <= minorUnitDigits(currency);
}
