import { Decimal, ZERO, toDecimal } from '@flowbill/shared/money/index';
import type { PriceTier, UsagePricing } from './tariff-schema.js';

/** The part of a usage quantity priced at one tier, before rounding to money. */
export interface TierCharge {
  /** Position of the tier in the tariff's list, from 0. */
  tierIndex: number;
  /** Tier bounds in billable units: (fromUnits, toUnits]; toUnits is null for the unbounded last tier. */
  fromUnits: Decimal;
  toUnits: Decimal | null;
  units: Decimal;
  unitPrice: Decimal;
  exactAmount: Decimal;
}

type TierBound = { from: Decimal; to: Decimal | null; unitPrice: Decimal };

/** Bounds parsed once per tier list (tariffs are immutable once parsed; decimal.js values are immutable too). */
const parsedBounds = new WeakMap<readonly PriceTier[], readonly TierBound[]>();

function tierBounds(tiers: readonly PriceTier[]): readonly TierBound[] {
  let bounds = parsedBounds.get(tiers);
  if (bounds === undefined) {
    bounds = tiers.map((tier, index) => ({
      from: index === 0 ? ZERO : toDecimal(tiers[index - 1].upTo as string),
      to: tier.upTo === null ? null : toDecimal(tier.upTo),
      unitPrice: toDecimal(tier.unitPrice),
    }));
    parsedBounds.set(tiers, bounds);
  }
  return bounds;
}

/** Graduated: every unit is priced at the tier it falls in, like income-tax brackets. */
export function priceGraduated(quantity: Decimal, tiers: readonly PriceTier[]): TierCharge[] {
  const charges: TierCharge[] = [];
  tierBounds(tiers).forEach((tier, tierIndex) => {
    const ceiling = tier.to === null ? quantity : Decimal.min(quantity, tier.to);
    const units = ceiling.minus(tier.from);
    if (units.greaterThan(0)) {
      charges.push({ tierIndex, fromUnits: tier.from, toUnits: tier.to, units, unitPrice: tier.unitPrice, exactAmount: units.times(tier.unitPrice) });
    }
  });
  return charges;
}

/** Volume: all units are priced at the single tier the total falls in (a total equal to a bound belongs to the lower tier). */
export function priceVolume(quantity: Decimal, tiers: readonly PriceTier[]): TierCharge[] {
  if (!quantity.greaterThan(0)) return [];
  const bounds = tierBounds(tiers);
  const tierIndex = bounds.findIndex((tier) => tier.to === null || quantity.lessThanOrEqualTo(tier.to));
  const tier = bounds[tierIndex];
  return [{ tierIndex, fromUnits: tier.from, toUnits: tier.to, units: quantity, unitPrice: tier.unitPrice, exactAmount: quantity.times(tier.unitPrice) }];
}

/** Tier charges for a billable quantity; free pricing yields none. */
export function priceUsage(quantity: Decimal, pricing: UsagePricing): TierCharge[] {
  switch (pricing.kind) {
    case 'free':
      return [];
    case 'graduated':
      return priceGraduated(quantity, pricing.tiers);
    case 'volume':
      return priceVolume(quantity, pricing.tiers);
  }
}
