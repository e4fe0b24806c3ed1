import type { Queryable } from '@flowbill/shared/postgres/index';
import type { BillingCycle } from '../../subscription/subscription-schema.js';
import type { AddOnRecord, OverrideRecord, PlanChangeRecord, PromotionDiscount, PromotionRecord, SubscriptionRecord } from '../catalog/records.js';

interface SubscriptionRow {
  subscriber_id: string;
  time_zone: string;
  tariff_id: string;
  billing_cycle: 'calendar-month' | 'anniversary';
  anchor_day: number | null;
  activated_at: Date;
  terminated_at: Date | null;
}

export function billingCycleOf(row: { billing_cycle: 'calendar-month' | 'anniversary'; anchor_day: number | null }): BillingCycle {
  return row.billing_cycle === 'anniversary' ? { kind: 'anniversary', anchorDay: row.anchor_day as number } : { kind: 'calendar-month' };
}

/**
 * A subscriber's subscription with everything that shapes its rating, in a stable order
 * (the rating basis is fingerprinted, so the same catalog must always read the same way).
 */
export async function loadSubscriptionRecord(client: Queryable, subscriberId: string): Promise<SubscriptionRecord | null> {
  const { rows } = await client.query<SubscriptionRow>(
    `SELECT s.subscriber_id, sub.time_zone, s.tariff_id, s.billing_cycle, s.anchor_day, s.activated_at, s.terminated_at
     FROM subscriptions s JOIN subscribers sub ON sub.id = s.subscriber_id
     WHERE s.subscriber_id = $1`,
    [subscriberId],
  );
  if (rows.length === 0) return null;
  const row = rows[0];
  // One after the other: a transaction's client runs one query at a time.
  const planChanges = await client.query<{ requested_at: Date; tariff_id: string; effective: PlanChangeRecord['effective'] }>(
    'SELECT requested_at, tariff_id, effective FROM subscription_plan_changes WHERE subscriber_id = $1 ORDER BY requested_at, id',
    [subscriberId],
  );
  const addOns = await client.query<{ addon_id: string; tariff_id: string; active_from: Date; active_to: Date | null }>(
    'SELECT addon_id, tariff_id, active_from, active_to FROM subscription_addons WHERE subscriber_id = $1 ORDER BY addon_id',
    [subscriberId],
  );
  const overrides = await client.query<{
    id: string;
    tariff_id: string;
    target: OverrideRecord['target'];
    charge_id: string;
    price: string | null;
    included_units: string | null;
    from_period: string;
    to_period: string | null;
  }>(
    `SELECT id::text AS id, tariff_id, target, charge_id, price::text AS price, included_units::text AS included_units, from_period, to_period
     FROM subscription_overrides o WHERE o.subscriber_id = $1 ORDER BY o.id`,
    [subscriberId],
  );
  const promotions = await client.query<{ code: string; name: string; discount: PromotionDiscount | null; tariff_ids: string[]; applied_at: Date }>(
    `SELECT c.code, p.name, p.discount, p.tariff_ids, c.applied_at
     FROM subscription_promo_codes c JOIN promotions p ON p.code = c.code
     WHERE c.subscriber_id = $1 ORDER BY c.code`,
    [subscriberId],
  );
  return {
    subscriberId: row.subscriber_id,
    timeZone: row.time_zone,
    billingCycle: billingCycleOf(row),
    tariffId: row.tariff_id,
    activatedAt: row.activated_at.getTime(),
    terminatedAt: row.terminated_at?.getTime() ?? null,
    planChanges: planChanges.rows.map((change) => ({ requestedAt: change.requested_at.getTime(), tariffId: change.tariff_id, effective: change.effective })),
    addOns: addOns.rows.map(
      (addOn): AddOnRecord => ({ addOnId: addOn.addon_id, tariffId: addOn.tariff_id, activeFrom: addOn.active_from.getTime(), activeTo: addOn.active_to?.getTime() ?? null }),
    ),
    overrides: overrides.rows.map(
      (override): OverrideRecord => ({
        id: override.id,
        tariffId: override.tariff_id,
        target: override.target,
        chargeId: override.charge_id,
        price: override.price,
        includedUnits: override.included_units,
        fromPeriod: override.from_period,
        toPeriod: override.to_period,
      }),
    ),
    promotions: promotions.rows.map(
      (promotion): PromotionRecord => ({
        code: promotion.code,
        name: promotion.name,
        discount: promotion.discount,
        tariffIds: promotion.tariff_ids,
        appliedAt: promotion.applied_at.getTime(),
      }),
    ),
  };
}

/** Every tariff a subscription can be rated on: its plans and its add-ons. */
export function tariffIdsOf(record: SubscriptionRecord): string[] {
  return [...new Set([record.tariffId, ...record.planChanges.map((change) => change.tariffId), ...record.addOns.map((addOn) => addOn.tariffId)])].sort();
}
