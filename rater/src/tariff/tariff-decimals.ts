import { toDecimal, type Decimal } from '@flowbill/shared/money/index';

/**
 * Decimal values of the decimal strings a tariff is written with (prices,
 * allowances, tier bounds, tax rates), parsed once instead of for every
 * subscriber rated. decimal.js values are immutable, so one parsed value can
 * be shared by every computation that reads it; the arithmetic is unchanged.
 */
const parsed = new Map<string, Decimal>();
const MAX_PARSED = 10_000;

export function tariffDecimal(text: string): Decimal {
  let value = parsed.get(text);
  if (value === undefined) {
    value = toDecimal(text);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(text, value);
  }
  return value;
}
