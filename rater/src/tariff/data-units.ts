import { Decimal, toDecimal, sumDecimals } from '@flowbill/shared/money/index';
import { DATA_UNITS, type DataUnit, type UsageMeasure } from './tariff-schema.js';

/** Bytes in one unit: 1 GB is 10^9 bytes in the decimal base and 2^30 in the binary base. */
export function bytesPerUnit(unit: DataUnit, base: UsageMeasure['base']): bigint {
  const exponent = BigInt(DATA_UNITS.indexOf(unit));
  return base === 'decimal' ? 1000n ** exponent : 1024n ** exponent;
}

const unitBytesDecimals = new Map<string, Decimal>();

/** `bytesPerUnit` as a Decimal (one shared, immutable value per unit and base). */
export function unitBytesDecimal(unit: DataUnit, base: UsageMeasure['base']): Decimal {
  const key = `${unit} ${base}`;
  let value = unitBytesDecimals.get(key);
  if (value === undefined) {
    value = toDecimal(bytesPerUnit(unit, base));
    if (DATA_UNITS.includes(unit) && (base === 'decimal' || base === 'binary')) unitBytesDecimals.set(key, value);
  }
  return value;
}

function applyUsageRounding(units: Decimal, rounding: UsageMeasure['rounding']): Decimal {
  switch (rounding) {
    case 'exact':
      return units;
    case 'ceil':
      return units.ceil();
    case 'floor':
      return units.floor();
  }
}

/** Bytes expressed in the measure's unit, rounded as the tariff states. Exact: 2^-30 has a finite decimal expansion. */
export function bytesToUnits(bytes: bigint, measure: Pick<UsageMeasure, 'unit' | 'base' | 'rounding'>): Decimal {
  const units = toDecimal(bytes).dividedBy(unitBytesDecimal(measure.unit, measure.base));
  return applyUsageRounding(units, measure.rounding);
}

/**
 * Units billed for a set of bucket byte counts: either the period total is
 * rounded once, or each bucket is rounded before summing ("per started MB of
 * each session"), as the measure's `roundingScope` says.
 */
export function measureUsage(bucketBytes: readonly bigint[], measure: UsageMeasure): { bytes: bigint; units: Decimal } {
  const bytes = bucketBytes.reduce((total, value) => total + value, 0n);
  const units =
    measure.roundingScope === 'period'
      ? bytesToUnits(bytes, measure)
      : sumDecimals(bucketBytes.map((value) => bytesToUnits(value, measure)));
  return { bytes, units };
}

/** `value` / `unit` rounded down (towards −∞) or up, in integers. */
function divideRounded(value: bigint, unit: bigint, rounding: 'ceil' | 'floor'): bigint {
  const quotient = value / unit; // truncates towards zero
  const remainder = value - quotient * unit;
  if (remainder === 0n) return quotient;
  if (rounding === 'floor') return value < 0n ? quotient - 1n : quotient;
  return value < 0n ? quotient : quotient + 1n;
}

/**
 * What one bucket adds to a bucket-scope, rounded measure: its bytes in whole
 * units, rounded as the measure says (`ceil` or `floor`). Kept as a bigint so
 * the buckets of a charge can be summed without a Decimal each.
 */
export function bucketUnits(bytes: bigint, unitBytes: bigint, rounding: 'ceil' | 'floor'): bigint {
  return divideRounded(bytes, unitBytes, rounding);
}

/** What was summed while reading a charge's buckets, for `measureUsageTotals`. */
export interface UsageTotals {
  bucketCount: number;
  bytes: bigint;
  /** Sum of `bucketUnits` over the buckets; only kept for a bucket-scope `ceil` or `floor` measure. */
  roundedUnits: bigint;
  /** Whether any bucket had negative bytes (never for validated usage). */
  negative: boolean;
}

/** The unit's exponent, and how many decimal places bytes / bytesPerUnit can have: 3 per 10^3, 10 per 2^10. */
function quotientPlaces(measure: Pick<UsageMeasure, 'unit' | 'base'>): number {
  const exponent = DATA_UNITS.indexOf(measure.unit);
  return measure.base === 'decimal' ? 3 * exponent : 10 * exponent;
}

/**
 * `measureUsage` from totals summed while the buckets were read, with one
 * Decimal operation instead of one per bucket. Returns exactly what
 * `measureUsage` returns for the same buckets, or null when that cannot be
 * guaranteed (then call `measureUsage` with the bucket list):
 *
 * - period scope: `measureUsage` rounds the total once; so does this.
 * - bucket scope: `measureUsage` divides each bucket with Decimal (precision P
 *   significant digits) and sums. A quotient bytes / 10^(3k) or bytes / 2^(10k)
 *   has at most F = 3k or 10k decimal places, so while every quotient and every
 *   partial sum stays below 10^(P − F) no division or addition rounds, and the
 *   result is the exact sum: total / unit for `exact`, the integer sum of the
 *   per-bucket ceilings or floors otherwise. With no negative bytes every
 *   bucket and partial sum is at most the total, so checking
 *   total + count × unit < unit × 10^(P − F) suffices (the count covers the
 *   up-to-one unit each ceiling adds).
 */
export function measureUsageTotals(totals: UsageTotals, measure: UsageMeasure): { bytes: bigint; units: Decimal } | null {
  const { bytes } = totals;
  if (measure.roundingScope === 'period') return { bytes, units: bytesToUnits(bytes, measure) };
  if (totals.negative) return null;
  const unitBytes = bytesPerUnit(measure.unit, measure.base);
  const headroom = Decimal.precision - quotientPlaces(measure);
  if (headroom <= 0 || bytes + BigInt(totals.bucketCount) * unitBytes >= unitBytes * 10n ** BigInt(headroom)) return null;
  switch (measure.rounding) {
    case 'exact':
      return { bytes, units: toDecimal(bytes).dividedBy(unitBytesDecimal(measure.unit, measure.base)) };
    case 'ceil':
    case 'floor':
      return { bytes, units: toDecimal(totals.roundedUnits) };
  }
}
