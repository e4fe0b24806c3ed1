import { z } from 'zod';
import { DateTime } from 'luxon';
import { isCurrencyCode, ROUNDING_MODES, SUPPORTED_CURRENCY_CODES } from '@flowbill/shared/money/index';
import { isValidTimeZone } from '../time/zoned-time.js';

/**
 * Building blocks shared by the tariff, subscription and usage schemas.
 * Money and quantities are decimal strings: a JSON number would already have
 * been turned into a binary float by JSON.parse before we could check it.
 */

const DECIMAL_PATTERN = /^(0|[1-9]\d*)(\.\d+)?$/;

export const nonNegativeDecimalString = z
  .string({ error: 'must be a decimal string such as "500" or "0.15" (JSON numbers are not accepted for prices or quantities)' })
  .regex(DECIMAL_PATTERN, 'must be a non-negative decimal string such as "500" or "0.15"');

export const positiveDecimalString = nonNegativeDecimalString.refine((value) => !/^0(\.0+)?$/.test(value), 'must be greater than zero');

export const percentString = nonNegativeDecimalString.refine((value) => {
  const [whole = '0', fraction = ''] = value.split('.');
  return Number(whole) < 100 || (whole === '100' && /^0*$/.test(fraction));
}, 'must be a percentage between "0" and "100"');

export const identifier = z.string().min(1, 'must not be empty').max(200);

export const currencyCode = z
  .string()
  .refine(isCurrencyCode, { error: `must be a supported ISO 4217 code (${SUPPORTED_CURRENCY_CODES.join(', ')})` });

export const roundingMode = z.enum(ROUNDING_MODES);

export const ianaTimeZone = z.string().refine(isValidTimeZone, { error: 'must be an IANA time zone such as "Europe/Moscow"' });

/** "YYYY-MM": the billing period that begins in that month. */
export const periodKey = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a period key "YYYY-MM", e.g. "2026-03"');

/**
 * An instant: ISO-8601 date-time with an explicit offset or Z (a bare local
 * time would be ambiguous in data exchanged between services) or epoch ms.
 * Parsed to epoch milliseconds.
 */
export const instant = z.union(
  [
    z.iso.datetime({ offset: true }).transform((text) => DateTime.fromISO(text, { setZone: true }).toMillis()),
    z.number().int().refine(Number.isSafeInteger, 'epoch milliseconds must be a safe integer'),
  ],
  { error: 'must be an ISO-8601 date-time with an offset (e.g. "2026-03-15T00:00:00+03:00") or epoch milliseconds' },
);

export const tariffRef = z.object({
  id: identifier,
  version: z.number().int().min(1),
});
export type TariffRef = z.infer<typeof tariffRef>;

export function tariffRefKey(ref: TariffRef): string {
  return `${ref.id}@${ref.version}`;
}
