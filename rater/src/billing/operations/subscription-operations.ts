import type pg from 'pg';
import { nonNegativeDecimalString } from '../../schema/primitives.js';
import { billingCycleSchema, type BillingCycle } from '../../subscription/subscription-schema.js';
import type { SubscriptionRecord } from '../catalog/records.js';
import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { billingCycleOf, loadSubscriptionRecord } from '../store/subscription-store.js';
import { tariffKind } from '../store/tariff-store.js';
import { withSubscriberTransaction, type BillingContext } from './context.js';
import { toEpochMs, type InstantInput } from './tariff-operations.js';

/**
 * Writes to one subscriber's subscription. Each is one transaction under the
 * subscriber's billing lock (so it never interleaves with a rating of that subscriber),
 * and idempotent: repeating a call with the same input leaves the same rows; the same
 * key with different terms is a 'conflict' rather than a silent overwrite, except where
 * the operation is "set" by nature (terminate, endAddOn, setOverride).
 */

export interface SubscribeInput {
  subscriberId: string;
  /** A plan tariff (kind 'plan'); the version in force is chosen by date when rating. */
  tariffId: string;
  activatedAt: InstantInput;
  billingCycle?: BillingCycle;
}

export async function subscribe(context: BillingContext, input: SubscribeInput): Promise<SubscriptionRecord> {
  const activatedAt = toEpochMs(input.activatedAt, 'activatedAt');
  const cycle = billingCycleSchema.parse(input.billingCycle ?? { kind: 'calendar-month' });
  return withSubscriberTransaction(context, input.subscriberId, async (client) => {
    const { rows: subscribers } = await client.query('SELECT 1 FROM subscribers WHERE id = $1', [input.subscriberId]);
    if (subscribers.length === 0) throw new BillingError('not-found', `subscriber ${input.subscriberId} does not exist`);
    await requireTariff(client, input.tariffId, 'plan');
    await client.query(
      `INSERT INTO subscriptions (subscriber_id, tariff_id, billing_cycle, anchor_day, activated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (subscriber_id) DO NOTHING`,
      [input.subscriberId, input.tariffId, cycle.kind, cycle.kind === 'anniversary' ? cycle.anchorDay : null, new Date(activatedAt)],
    );
    const record = (await loadSubscriptionRecord(client, input.subscriberId)) as SubscriptionRecord;
    if (record.tariffId !== input.tariffId || record.activatedAt !== activatedAt || JSON.stringify(record.billingCycle) !== JSON.stringify(billingCycleOf(toRow(cycle)))) {
      throw new BillingError('conflict', `${input.subscriberId} is already subscribed with other terms; use changePlan`);
    }
    return record;
  });
}

export interface ChangePlanInput {
  subscriberId: string;
  tariffId: string;
  requestedAt: InstantInput;
  /** Overrides the tariff's upgrade/downgrade policy for this change. */
  effective?: 'immediate' | 'period-end';
}

export async function changePlan(context: BillingContext, input: ChangePlanInput): Promise<SubscriptionRecord> {
  const requestedAt = toEpochMs(input.requestedAt, 'requestedAt');
  return withSubscriberTransaction(context, input.subscriberId, async (client) => {
    const current = await requireSubscription(client, input.subscriberId);
    await requireTariff(client, input.tariffId, 'plan');
    if (requestedAt < current.activatedAt) throw new BillingError('catalog', `a plan change of ${input.subscriberId} cannot be requested before its activation`);
    await client.query(
      `INSERT INTO subscription_plan_changes (subscriber_id, requested_at, tariff_id, effective) VALUES ($1, $2, $3, $4)
       ON CONFLICT ON CONSTRAINT subscription_plan_changes_once DO NOTHING`,
      [input.subscriberId, new Date(requestedAt), input.tariffId, input.effective ?? null],
    );
    const record = (await loadSubscriptionRecord(client, input.subscriberId)) as SubscriptionRecord;
    const stored = record.planChanges.find((change) => change.requestedAt === requestedAt && change.tariffId === input.tariffId);
    if (stored?.effective !== (input.effective ?? null)) throw new BillingError('conflict', `this plan change of ${input.subscriberId} is already recorded with effective=${stored?.effective}`);
    return record;
  });
}

/** Ends the subscription at `at` (or moves the end); the rater credits unused advance fees. */
export async function terminate(context: BillingContext, subscriberId: string, atInput: InstantInput): Promise<SubscriptionRecord> {
  const at = toEpochMs(atInput, 'terminatedAt');
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const current = await requireSubscription(client, subscriberId);
    if (at <= current.activatedAt) throw new BillingError('catalog', `${subscriberId} cannot be terminated before its activation`);
    await client.query('UPDATE subscriptions SET terminated_at = $2 WHERE subscriber_id = $1', [subscriberId, new Date(at)]);
    return (await loadSubscriptionRecord(client, subscriberId)) as SubscriptionRecord;
  });
}

export interface AddOnInput {
  subscriberId: string;
  addOnId: string;
  /** An add-on tariff (kind 'addon'). */
  tariffId: string;
  activeFrom: InstantInput;
  activeTo?: InstantInput;
}

export async function addAddOn(context: BillingContext, input: AddOnInput): Promise<SubscriptionRecord> {
  const activeFrom = toEpochMs(input.activeFrom, 'activeFrom');
  const activeTo = input.activeTo === undefined ? null : toEpochMs(input.activeTo, 'activeTo');
  return withSubscriberTransaction(context, input.subscriberId, async (client) => {
    await requireSubscription(client, input.subscriberId);
    await requireTariff(client, input.tariffId, 'addon');
    await client.query(
      `INSERT INTO subscription_addons (subscriber_id, addon_id, tariff_id, active_from, active_to) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (subscriber_id, addon_id) DO NOTHING`,
      [input.subscriberId, input.addOnId, input.tariffId, new Date(activeFrom), activeTo === null ? null : new Date(activeTo)],
    );
    const record = (await loadSubscriptionRecord(client, input.subscriberId)) as SubscriptionRecord;
    const stored = record.addOns.find((addOn) => addOn.addOnId === input.addOnId);
    if (stored?.tariffId !== input.tariffId || stored.activeFrom !== activeFrom || stored.activeTo !== activeTo) {
      throw new BillingError('conflict', `add-on ${input.addOnId} of ${input.subscriberId} already exists with other terms; end it with endAddOn`);
    }
    return record;
  });
}

export async function endAddOn(context: BillingContext, subscriberId: string, addOnId: string, atInput: InstantInput): Promise<SubscriptionRecord> {
  const at = toEpochMs(atInput, 'activeTo');
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const { rowCount } = await client.query('UPDATE subscription_addons SET active_to = $3 WHERE subscriber_id = $1 AND addon_id = $2', [subscriberId, addOnId, new Date(at)]);
    if (rowCount === 0) throw new BillingError('not-found', `${subscriberId} has no add-on ${addOnId}`);
    return (await loadSubscriptionRecord(client, subscriberId)) as SubscriptionRecord;
  });
}

export interface OverrideInput {
  subscriberId: string;
  tariffId: string;
  /** A recurring fee's per-period price, or a usage charge's included units. */
  target: 'recurring-fee' | 'usage-charge';
  chargeId: string;
  price?: string;
  includedUnits?: string;
  /** First and last (inclusive) billing period with these terms; open-ended without toPeriod. */
  fromPeriod: string;
  toPeriod?: string;
}

/**
 * Sets an individual price or quota. Checked against the tariff when a period is rated
 * (an unknown fee id or a price in fractions of a kopeck fails there with 'catalog').
 */
export async function setOverride(context: BillingContext, input: OverrideInput): Promise<SubscriptionRecord> {
  assertPeriodKey(input.fromPeriod);
  if (input.toPeriod !== undefined) assertPeriodKey(input.toPeriod);
  const value = input.target === 'recurring-fee' ? input.price : input.includedUnits;
  const other = input.target === 'recurring-fee' ? input.includedUnits : input.price;
  if (value === undefined || other !== undefined || !nonNegativeDecimalString.safeParse(value).success) {
    throw new BillingError('catalog', `an override of a ${input.target} takes ${input.target === 'recurring-fee' ? 'price' : 'includedUnits'} only, as a decimal string`);
  }
  return withSubscriberTransaction(context, input.subscriberId, async (client) => {
    await requireSubscription(client, input.subscriberId);
    await requireTariff(client, input.tariffId, null);
    await client.query(
      `INSERT INTO subscription_overrides (subscriber_id, tariff_id, target, charge_id, price, included_units, from_period, to_period)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT ON CONSTRAINT subscription_overrides_once DO UPDATE SET
         price = EXCLUDED.price, included_units = EXCLUDED.included_units, to_period = EXCLUDED.to_period`,
      [
        input.subscriberId,
        input.tariffId,
        input.target,
        input.chargeId,
        input.target === 'recurring-fee' ? value : null,
        input.target === 'usage-charge' ? value : null,
        input.fromPeriod,
        input.toPeriod ?? null,
      ],
    );
    return (await loadSubscriptionRecord(client, input.subscriberId)) as SubscriptionRecord;
  });
}

/** Records that the subscriber entered a promotion code at `appliedAt` (within the promotion's validity). */
export async function applyPromoCode(context: BillingContext, subscriberId: string, code: string, appliedAtInput: InstantInput): Promise<SubscriptionRecord> {
  const appliedAt = toEpochMs(appliedAtInput, 'appliedAt');
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    await requireSubscription(client, subscriberId);
    const { rows } = await client.query<{ valid_from: Date; valid_to: Date | null }>('SELECT valid_from, valid_to FROM promotions WHERE code = $1', [code]);
    if (rows.length === 0) throw new BillingError('not-found', `promotion ${code} does not exist`);
    if (appliedAt < rows[0].valid_from.getTime() || (rows[0].valid_to !== null && appliedAt >= rows[0].valid_to.getTime())) {
      throw new BillingError('catalog', `promotion ${code} cannot be entered at ${new Date(appliedAt).toISOString()}`);
    }
    await client.query('INSERT INTO subscription_promo_codes (subscriber_id, code, applied_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      subscriberId,
      code,
      new Date(appliedAt),
    ]);
    const record = (await loadSubscriptionRecord(client, subscriberId)) as SubscriptionRecord;
    if (record.promotions.find((promotion) => promotion.code === code)?.appliedAt !== appliedAt) {
      throw new BillingError('conflict', `${subscriberId} entered ${code} at another time already`);
    }
    return record;
  });
}

async function requireSubscription(client: pg.PoolClient, subscriberId: string): Promise<SubscriptionRecord> {
  const record = await loadSubscriptionRecord(client, subscriberId);
  if (record === null) throw new BillingError('not-found', `subscriber ${subscriberId} has no subscription`);
  return record;
}

async function requireTariff(client: pg.PoolClient, tariffId: string, kind: 'plan' | 'addon' | null): Promise<void> {
  const found = await tariffKind(client, tariffId);
  if (found === null) throw new BillingError('not-found', `tariff ${tariffId} does not exist`);
  if (kind !== null && found !== kind) throw new BillingError('catalog', `tariff ${tariffId} is a ${found}, not a ${kind}`);
}

function toRow(cycle: BillingCycle): { billing_cycle: BillingCycle['kind']; anchor_day: number | null } {
  return { billing_cycle: cycle.kind, anchor_day: cycle.kind === 'anniversary' ? cycle.anchorDay : null };
}
