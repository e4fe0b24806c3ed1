import { Decimal, toDecimal, sumDecimals } from '@flowbill/shared/money/index';
import { DATA_UNITS, type DataUnit, type UsageMeasure } from './tariff-schema.js';

/** Bytes in one unit: 1 GB is 10^9 bytes in the decimal base and 2^30 in the binary base. */
export function bytesPerUnit(unit: DataUnit, base: UsageMeasure['base']): bigint {
  const exponent = BigInt(DATA_UNITS.indexOf(unit));
  return base === 'decimal' ? 1000n ** exponent : 1024n ** exponent;
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
  const units = toDecimal(bytes).dividedBy(toDecimal(bytesPerUnit(measure.unit, measure.base)));
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
