import type { BillingCycle } from '../../subscription/subscription-schema.js';
import type { Discount } from '../../tariff/tariff-schema.js';
import type { Tariff } from '../../tariff/tariff-schema.js';

/**
 * The catalog as the billing layer reads it from PostgreSQL: plain values, instants as
 * epoch milliseconds, money as decimal strings. The pure modules beside this one turn
 * it into the rater's inputs for one period.
 */

export interface TariffVersionRecord {
  tariffId: string;
  version: number;
  effectiveFrom: number;
  /** The version as parseTariff returned it when it was published. */
  tariff: Tariff;
}

export interface PlanChangeRecord {
  requestedAt: number;
  tariffId: string;
  effective: 'immediate' | 'period-end' | null;
}

export interface AddOnRecord {
  addOnId: string;
  tariffId: string;
  activeFrom: number;
  activeTo: number | null;
}

export interface OverrideRecord {
  id: string;
  tariffId: string;
  target: 'recurring-fee' | 'usage-charge';
  chargeId: string;
  /** Per-period price of a recurring fee (target recurring-fee). */
  price: string | null;
  /** Included units of a usage charge (target usage-charge). */
  includedUnits: string | null;
  fromPeriod: string;
  toPeriod: string | null;
}

/** A promotion entered by the subscriber, with the discount it adds (null: the tariffs carry it). */
export interface PromotionRecord {
  code: string;
  name: string;
  discount: PromotionDiscount | null;
  tariffIds: string[];
  appliedAt: number;
}

/** A rater discount without its id and promo code, which the promotion supplies. */
export type PromotionDiscount = DistributiveOmit<Discount, 'id' | 'promoCode' | 'name'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface SubscriptionRecord {
  subscriberId: string;
  timeZone: string;
  billingCycle: BillingCycle;
  /** The plan at activation. */
  tariffId: string;
  activatedAt: number;
  terminatedAt: number | null;
  planChanges: PlanChangeRecord[];
  addOns: AddOnRecord[];
  overrides: OverrideRecord[];
  promotions: PromotionRecord[];
}
