import { InputValidationError, parseTariff } from '../../input/parse-inputs.js';
import type { Tariff, TariffInput } from '../../tariff/tariff-schema.js';
import { BillingError } from '../errors.js';
import type { OverrideRecord, PromotionRecord } from './records.js';

/**
 * A tariff version as one subscriber gets it in one period: the published version with
 * that subscriber's individual prices and quotas, and the discounts of the promotions
 * they entered. The id and version stay the published ones, so lines and revenue still
 * name the real tariff; the invoice keeps the derived body in its rating basis.
 *
 * The result goes through parseTariff again, so an override the tariff cannot carry (a
 * price in fractions of a kopeck) is refused like a bad tariff file.
 */
export function deriveTariff(base: Tariff, periodKey: string, overrides: readonly OverrideRecord[], promotions: readonly PromotionRecord[]): Tariff {
  const inForce = overridesInForce(base.id, periodKey, overrides);
  const ownPromotions = promotions.filter((promotion) => promotion.discount !== null && promotion.tariffIds.includes(base.id));
  if (inForce.length === 0 && ownPromotions.length === 0) return base;

  const derived: TariffInput = structuredClone(base);
  for (const override of inForce) {
    if (override.target === 'recurring-fee') {
      const fee = derived.recurringFees?.find((candidate) => candidate.id === override.chargeId);
      if (fee === undefined) throw missing(override, base, 'recurring fee');
      fee.price = override.price as string;
    } else {
      const charge = derived.usageCharges?.find((candidate) => candidate.id === override.chargeId);
      if (charge === undefined) throw missing(override, base, 'usage charge');
      charge.includedUnits = override.includedUnits as string;
    }
  }
  for (const promotion of ownPromotions) {
    derived.discounts = [...(derived.discounts ?? []), { ...promotion.discount!, id: `promo-${promotion.code}`, name: promotion.name, promoCode: promotion.code }];
  }
  try {
    return parseTariff(derived, `tariff ${base.id}@${base.version} with individual terms`);
  } catch (error) {
    if (error instanceof InputValidationError) throw new BillingError('catalog', error.message, { cause: error });
    throw error;
  }
}

/** Per target (fee or charge), the override with the latest from_period not after the period, if it still runs. */
export function overridesInForce(tariffId: string, periodKey: string, overrides: readonly OverrideRecord[]): OverrideRecord[] {
  const latest = new Map<string, OverrideRecord>();
  for (const override of overrides) {
    if (override.tariffId !== tariffId || override.fromPeriod > periodKey) continue;
    const key = `${override.target}\u0000${override.chargeId}`;
    const current = latest.get(key);
    if (current === undefined || current.fromPeriod < override.fromPeriod) latest.set(key, override);
  }
  return [...latest.values()]
    .filter((override) => override.toPeriod === null || periodKey <= override.toPeriod)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function missing(override: OverrideRecord, base: Tariff, what: string): BillingError {
  return new BillingError('catalog', `override ${override.id} sets ${what} "${override.chargeId}", which ${base.id}@${base.version} does not have`);
}
