/**
 * ISO 4217 currencies the billing system can price in, with the number of
 * digits of their minor unit (kopeck, cent, …). Amounts are always rounded to
 * this many decimal places before they reach a line item or an invoice.
 *
 * The table is deliberately explicit rather than derived from `Intl`: the
 * digits a billing system rounds to must not change with the Node/ICU version.
 */
export const CURRENCY_MINOR_UNITS = {
  RUB: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  JPY: 0,
  KZT: 2,
  BYN: 2,
  UAH: 2,
  AMD: 2,
  AZN: 2,
  GEL: 2,
  KGS: 2,
  MDL: 2,
  TJS: 2,
  UZS: 2,
  CNY: 2,
  TRY: 2,
  CHF: 2,
  PLN: 2,
  CZK: 2,
  KRW: 0,
  CLP: 0,
  ISK: 0,
  BHD: 3,
  KWD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
} as const satisfies Record<string, number>;

export type CurrencyCode = keyof typeof CURRENCY_MINOR_UNITS;

/** Russian subscribers are billed in roubles unless a tariff says otherwise. */
export const DEFAULT_CURRENCY: CurrencyCode = 'RUB';

export const SUPPORTED_CURRENCY_CODES = Object.keys(CURRENCY_MINOR_UNITS) as CurrencyCode[];

export function isCurrencyCode(code: string): code is CurrencyCode {
  return Object.prototype.hasOwnProperty.call(CURRENCY_MINOR_UNITS, code);
}

/** Digits of the minor unit; throws for a code the table does not know, so no amount is ever rounded to a guessed precision. */
export function minorUnitDigits(code: string): number {
  if (!isCurrencyCode(code)) {
    throw new RangeError(`Unknown or unsupported currency code "${code}" (expected one of ${SUPPORTED_CURRENCY_CODES.join(', ')})`);
  }
  return CURRENCY_MINOR_UNITS[code];
}
