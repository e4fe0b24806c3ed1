export {
  CURRENCY_MINOR_UNITS,
  DEFAULT_CURRENCY,
  SUPPORTED_CURRENCY_CODES,
  isCurrencyCode,
  minorUnitDigits,
  type CurrencyCode,
} from './currency.js';
export { Decimal, ZERO, toDecimal, sumDecimals, type DecimalInput, type DecimalRounding } from './decimal.js';
export { ROUNDING_MODES, roundToDecimalPlaces, roundToMinorUnit, isWholeMinorUnits, type RoundingMode } from './rounding.js';
export {
  money,
  zeroMoney,
  addMoney,
  subtractMoney,
  negateMoney,
  sumMoney,
  multiplyMoney,
  roundMoney,
  moneyEquals,
  formatMoneyAmount,
  toMinorUnits,
  fromMinorUnits,
  type Money,
} from './money.js';
export { apportionToTotal, allocateByWeights, allocateMoney } from './allocation.js';
