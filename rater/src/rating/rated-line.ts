import type { Decimal } from '@flowbill/shared/money/index';
import type { TariffRef } from '../schema/primitives.js';
import type { DirectionSelector, TaxRule, UsageMeasure } from '../tariff/tariff-schema.js';
import type { EpochMillis } from '../time/zoned-time.js';
import type { ProrationBasis } from '../period/proration.js';

/**
 * A priced line while the engine works on it: exact decimals and epoch
 * instants. `serializeLine` turns it into the JSON-safe `LineItem`.
 */

export type LineKind = 'recurring' | 'recurring-credit' | 'usage' | 'discount' | 'minimum-charge';

export interface ProrationDetail {
  basis: ProrationBasis;
  /** Days or seconds covered, and in the whole period. */
  coveredUnits: number;
  periodUnits: number;
}

export interface UsageDetail {
  timeWindow: string | null;
  bucketCount: number;
  bytes: bigint;
  unitBytes: bigint;
  rounding: UsageMeasure['rounding'];
  roundingScope: UsageMeasure['roundingScope'];
  measuredUnits: Decimal;
  includedUnits: Decimal;
  billableUnits: Decimal;
}

export interface TierRow {
  tierIndex: number;
  fromUnits: Decimal;
  toUnits: Decimal | null;
  units: Decimal;
  unitPrice: Decimal;
  /** Units × unit price before rounding. */
  exactAmount: Decimal;
  /** This tier's share of the rounded line amount; the rows add up to the line exactly. */
  amount: Decimal;
}

export interface DiscountDetail {
  kind: 'percent' | 'fixed';
  percent: Decimal | null;
  fixedAmount: Decimal | null;
  appliesTo: readonly ('recurring' | 'usage')[];
  /** What the discount was taken from: the lines in its scope, after earlier discounts. */
  base: Decimal;
  promoCode: string | null;
  /** 1 for the first period of the discount. */
  periodNumber: number;
  periods: number | null;
}

export interface RatedLine {
  id: string;
  kind: LineKind;
  description: string;
  segmentIndex: number;
  tariff: TariffRef;
  chargeId: string;
  coverageStart: EpochMillis;
  coverageEnd: EpochMillis;
  /** When the line becomes due: the start of what it covers for advance charges, the end of the period otherwise. */
  billableAt: EpochMillis;
  timing: 'advance' | 'arrears';
  quantity: Decimal;
  unit: string;
  /** Null when no single price explains the line (several tiers, a discount, a top-up). */
  unitPrice: Decimal | null;
  /** Rounded to the minor unit; tax-inclusive or exclusive as the tariff's tax rule says. */
  amount: Decimal;
  trafficClass?: string;
  direction?: DirectionSelector;
  proration?: ProrationDetail;
  usage?: UsageDetail;
  tiers?: TierRow[];
  discount?: DiscountDetail;
}

export interface TaxedLine extends RatedLine {
  taxRule: TaxRule | null;
  tax: Decimal;
  net: Decimal;
  gross: Decimal;
}
