import { minorUnitDigits, type Decimal } from '@flowbill/shared/money/index';
import type { TariffRef } from '../schema/primitives.js';
import type { DirectionSelector, TaxRule } from '../tariff/tariff-schema.js';
import { formatInstant } from '../time/zoned-time.js';
import type { LineKind, TaxedLine } from './rated-line.js';

/**
 * A priced line as handed to invoicing, the API and the quote CLI: plain JSON,
 * money as decimal strings with exactly the currency's minor-unit digits,
 * quantities as plain decimal strings, instants as ISO-8601 in the
 * subscriber's zone.
 */
export interface LineItem {
  id: string;
  kind: LineKind;
  description: string;
  tariff: TariffRef;
  chargeId: string;
  /** The half-open interval [start, end) the line pays for. */
  covers: { start: string; end: string };
  billableAt: string;
  timing: 'advance' | 'arrears';
  quantity: string;
  unit: string;
  unitPrice: string | null;
  /** As priced: tax-inclusive under an inclusive rule, net under an exclusive one. */
  amount: string;
  tax: string;
  net: string;
  gross: string;
  taxRule: Pick<TaxRule, 'name' | 'ratePercent' | 'inclusion'> | null;
  trafficClass?: string;
  direction?: DirectionSelector;
  proration?: { basis: 'day' | 'second'; coveredUnits: number; periodUnits: number };
  usage?: {
    timeWindow: string | null;
    bucketCount: number;
    bytes: string;
    unitBytes: string;
    rounding: 'exact' | 'ceil' | 'floor';
    roundingScope: 'period' | 'bucket';
    measuredUnits: string;
    includedUnits: string;
    billableUnits: string;
  };
  tiers?: {
    tierIndex: number;
    fromUnits: string;
    toUnits: string | null;
    units: string;
    unitPrice: string;
    exactAmount: string;
    amount: string;
  }[];
  discount?: {
    kind: 'percent' | 'fixed';
    percent: string | null;
    fixedAmount: string | null;
    appliesTo: ('recurring' | 'usage')[];
    base: string;
    promoCode: string | null;
    periodNumber: number;
    periods: number | null;
  };
}

export function formatAmount(amount: Decimal, currency: string): string {
  return amount.toFixed(minorUnitDigits(currency));
}

const plain = (value: Decimal): string => value.toFixed();

export function serializeLine(line: TaxedLine, currency: string, timeZone: string): LineItem {
  const money = (value: Decimal) => formatAmount(value, currency);
  // Optional members are added in a fixed order, so the JSON always lists them in the same order.
  const item: LineItem = {
    id: line.id,
    kind: line.kind,
    description: line.description,
    tariff: { id: line.tariff.id, version: line.tariff.version },
    chargeId: line.chargeId,
    covers: { start: formatInstant(line.coverageStart, timeZone), end: formatInstant(line.coverageEnd, timeZone) },
    billableAt: formatInstant(line.billableAt, timeZone),
    timing: line.timing,
    quantity: plain(line.quantity),
    unit: line.unit,
    unitPrice: line.unitPrice === null ? null : plain(line.unitPrice),
    amount: money(line.amount),
    tax: money(line.tax),
    net: money(line.net),
    gross: money(line.gross),
    taxRule: line.taxRule === null ? null : { name: line.taxRule.name, ratePercent: line.taxRule.ratePercent, inclusion: line.taxRule.inclusion },
  };
  if (line.trafficClass !== undefined) item.trafficClass = line.trafficClass;
  if (line.direction !== undefined) item.direction = line.direction;
  if (line.proration !== undefined) item.proration = { ...line.proration };
  if (line.usage !== undefined) {
    item.usage = {
      timeWindow: line.usage.timeWindow,
      bucketCount: line.usage.bucketCount,
      bytes: line.usage.bytes.toString(),
      unitBytes: line.usage.unitBytes.toString(),
      rounding: line.usage.rounding,
      roundingScope: line.usage.roundingScope,
      measuredUnits: plain(line.usage.measuredUnits),
      includedUnits: plain(line.usage.includedUnits),
      billableUnits: plain(line.usage.billableUnits),
    };
  }
  if (line.tiers !== undefined) {
    item.tiers = line.tiers.map((tier) => ({
      tierIndex: tier.tierIndex,
      fromUnits: plain(tier.fromUnits),
      toUnits: tier.toUnits === null ? null : plain(tier.toUnits),
      units: plain(tier.units),
      unitPrice: plain(tier.unitPrice),
      exactAmount: plain(tier.exactAmount),
      amount: money(tier.amount),
    }));
  }
  if (line.discount !== undefined) {
    item.discount = {
      kind: line.discount.kind,
      percent: line.discount.percent === null ? null : plain(line.discount.percent),
      fixedAmount: line.discount.fixedAmount === null ? null : money(line.discount.fixedAmount),
      appliesTo: [...line.discount.appliesTo],
      base: money(line.discount.base),
      promoCode: line.discount.promoCode,
      periodNumber: line.discount.periodNumber,
      periods: line.discount.periods,
    };
  }
  return item;
}
