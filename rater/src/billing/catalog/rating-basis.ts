import { parseSubscription, parseTariff } from '../../input/parse-inputs.js';
import { billingPeriodForKey } from '../../period/billing-period.js';
import type { Subscription } from '../../subscription/subscription-schema.js';
import type { Tariff } from '../../tariff/tariff-schema.js';
import { fingerprint } from '../canonical-json.js';
import { BillingError } from '../errors.js';
import { deriveTariff } from './derive-tariff.js';
import type { SubscriptionRecord, TariffVersionRecord } from './records.js';
import { addOnTimeline, planTimeline, type TimelinePiece } from './timeline.js';
import { VersionIndex } from './version-index.js';

/**
 * One call of the rater: the plan, or one add-on service. Each add-on is rated as its
 * own small subscription (activated when the service was added) because the rater
 * knows one tariff at a time; an add-on gets no usage, so no byte is priced twice.
 * Tax is therefore computed per section, on that section's total.
 */
export interface RatingSection {
  /** 'plan' or 'addon:<addon id>'; prefixes the section's line keys. */
  key: string;
  tariffs: Tariff[];
  subscription: Subscription;
  withUsage: boolean;
}

/** Everything a period is rated from apart from usage: the terms of the invoice. */
export interface RatingBasis {
  subscriberId: string;
  periodKey: string;
  period: { start: number; end: number; timeZone: string };
  /** null when no section is active in the period. */
  currency: string | null;
  sections: RatingSection[];
}

export function buildRatingBasis(subscription: SubscriptionRecord, versions: readonly TariffVersionRecord[], periodKey: string): RatingBasis {
  const index = new VersionIndex(versions);
  const period = billingPeriodForKey(periodKey, subscription.billingCycle, subscription.timeZone);
  const inPeriod = (pieces: TimelinePiece[]) => pieces.filter((piece) => piece.start < period.end && (piece.end === null || piece.end > period.start));
  const promoCodes = subscription.promotions.map((promotion) => ({ code: promotion.code, appliedAt: promotion.appliedAt }));

  const section = (key: string, pieces: TimelinePiece[], activatedAt: number, terminatedAt: number | null, withUsage: boolean): RatingSection | null => {
    const active = inPeriod(pieces);
    if (active.length === 0) return null;
    const refs = new Map(active.map((piece) => [`${piece.ref.id}@${piece.ref.version}`, piece.ref]));
    const tariffs = [...refs.values()].map((ref) => deriveTariff(index.get(ref).tariff, periodKey, subscription.overrides, subscription.promotions));
    // The first stretch in the period stands in for everything before it: the rater only
    // prices what falls inside the period, and discount periods count from activation.
    const raterSubscription = parseSubscription({
      subscriberId: subscription.subscriberId,
      timeZone: subscription.timeZone,
      billingCycle: subscription.billingCycle,
      activatedAt,
      ...(terminatedAt === null ? {} : { terminatedAt }),
      tariff: active[0].ref,
      planChanges: active.slice(1).map((piece) => ({ requestedAt: piece.start, tariff: piece.ref, effective: 'immediate' as const })),
      promoCodes,
    });
    return { key, tariffs, subscription: raterSubscription, withUsage };
  };

  const sections: RatingSection[] = [];
  const plan = section('plan', planTimeline(subscription, index), subscription.activatedAt, subscription.terminatedAt, true);
  if (plan !== null) sections.push(plan);
  for (const addOn of [...subscription.addOns].sort((a, b) => (a.addOnId < b.addOnId ? -1 : a.addOnId > b.addOnId ? 1 : 0))) {
    const ends = [addOn.activeTo, subscription.terminatedAt].filter((end): end is number => end !== null);
    const added = section(`addon:${addOn.addOnId}`, addOnTimeline(addOn, subscription, index), addOn.activeFrom, ends.length === 0 ? null : Math.min(...ends), false);
    if (added !== null) sections.push(added);
  }

  const currencies = new Set(sections.flatMap((entry) => entry.tariffs.map((tariff) => tariff.currency)));
  if (currencies.size > 1) {
    throw new BillingError('catalog', `the tariffs of ${subscription.subscriberId} in ${periodKey} mix currencies (${[...currencies].join(', ')}); one invoice has one currency`);
  }
  return {
    subscriberId: subscription.subscriberId,
    periodKey: period.key,
    period: { start: period.start, end: period.end, timeZone: period.timeZone },
    currency: currencies.size === 0 ? null : [...currencies][0],
    sections,
  };
}

/** Identifies the terms a period was rated on: same fingerprint, same charges for the same usage. */
export function basisFingerprint(basis: RatingBasis): string {
  return fingerprint(basis);
}

/** A basis read back from an invoice's rating_basis column, through the rater's schemas again. */
export function reviveRatingBasis(stored: unknown): RatingBasis {
  const basis = stored as RatingBasis;
  return {
    ...basis,
    sections: basis.sections.map((entry) => ({
      ...entry,
      tariffs: entry.tariffs.map((tariff) => parseTariff(tariff, `stored tariff ${tariff.id}@${tariff.version}`)),
      subscription: parseSubscription(entry.subscription, `stored subscription of ${basis.subscriberId}`),
    })),
  };
}

/** The published versions a basis uses (what invoice_tariff_versions records). */
export function basisTariffRefs(basis: RatingBasis): { id: string; version: number }[] {
  const refs = new Map<string, { id: string; version: number }>();
  for (const entry of basis.sections) for (const tariff of entry.tariffs) refs.set(`${tariff.id}@${tariff.version}`, { id: tariff.id, version: tariff.version });
  return [...refs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.version - b.version));
}
