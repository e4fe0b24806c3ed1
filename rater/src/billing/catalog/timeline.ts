import { InputValidationError, parseSubscription } from '../../input/parse-inputs.js';
import { RatingInputError } from '../../rating/rating-input-error.js';
import type { TariffRef } from '../../schema/primitives.js';
import { resolveTariffTimeline } from '../../subscription/tariff-timeline.js';
import { TariffCatalogue } from '../../tariff/tariff-catalogue.js';
import { BillingError } from '../errors.js';
import type { AddOnRecord, SubscriptionRecord, TariffVersionRecord } from './records.js';
import type { VersionIndex } from './version-index.js';

/** A stretch [start, end) during which one tariff version applies; end null while it runs on. */
export interface TimelinePiece {
  ref: TariffRef;
  start: number;
  end: number | null;
}

const refOf = (record: TariffVersionRecord): TariffRef => ({ id: record.tariffId, version: record.version });

/**
 * The plan versions of a subscription over time.
 *
 * Two kinds of change meet here. Plan changes the subscriber asked for follow the
 * rater's rules (upgrade at once, downgrade at period end, a new request cancels a
 * pending one), so the rater's own resolveTariffTimeline decides them, judging each
 * request on the versions in force when it was made. Price changes of a plan (a new
 * version taking effect) then split each plan stretch at the versions' effective dates.
 * The result is handed to the rater as immediate switches, which it prorates like any
 * mid-period change, and which no later request can cancel.
 */
export function planTimeline(subscription: SubscriptionRecord, index: VersionIndex): TimelinePiece[] {
  const used = new Map<string, TariffVersionRecord>();
  const versionAt = (tariffId: string, instant: number): TariffRef => {
    const record = index.at(tariffId, instant);
    used.set(`${record.tariffId}@${record.version}`, record);
    return refOf(record);
  };
  const requests = asCatalogError(() =>
    parseSubscription(
      {
        subscriberId: subscription.subscriberId,
        timeZone: subscription.timeZone,
        billingCycle: subscription.billingCycle,
        activatedAt: subscription.activatedAt,
        ...(subscription.terminatedAt === null ? {} : { terminatedAt: subscription.terminatedAt }),
        tariff: versionAt(subscription.tariffId, subscription.activatedAt),
        planChanges: subscription.planChanges.map((change) => ({
          requestedAt: change.requestedAt,
          tariff: versionAt(change.tariffId, change.requestedAt),
          ...(change.effective === null ? {} : { effective: change.effective }),
        })),
      },
      `subscription of ${subscription.subscriberId}`,
    ),
  );
  const planSegments = asCatalogError(() => resolveTariffTimeline(requests, new TariffCatalogue([...used.values()].map((record) => record.tariff))));
  return mergeAdjacent(planSegments.flatMap((segment) => splitByVersions(segment.tariff.id, segment.start, segment.end, index)));
}

/** The versions of an add-on's tariff over [activeFrom, activeTo), cut at the subscription's end. */
export function addOnTimeline(addOn: AddOnRecord, subscription: SubscriptionRecord, index: VersionIndex): TimelinePiece[] {
  const ends = [addOn.activeTo, subscription.terminatedAt].filter((end): end is number => end !== null);
  const end = ends.length === 0 ? null : Math.min(...ends);
  if (end !== null && end <= addOn.activeFrom) return [];
  return splitByVersions(addOn.tariffId, addOn.activeFrom, end, index);
}

function splitByVersions(tariffId: string, start: number, end: number | null, index: VersionIndex): TimelinePiece[] {
  const cuts = [start, ...index.changesWithin(tariffId, start, end)];
  return mergeAdjacent(cuts.map((at, i) => ({ ref: refOf(index.at(tariffId, at)), start: at, end: i + 1 < cuts.length ? cuts[i + 1] : end })));
}

/** Neighbouring pieces of the same version are one stretch (and one allowance). */
function mergeAdjacent(pieces: TimelinePiece[]): TimelinePiece[] {
  const merged: TimelinePiece[] = [];
  for (const piece of pieces) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.end === piece.start && last.ref.id === piece.ref.id && last.ref.version === piece.ref.version) {
      last.end = piece.end;
    } else {
      merged.push({ ...piece });
    }
  }
  return merged;
}

/** The rater's input errors, raised on catalog data, are catalog problems of this subscriber. */
function asCatalogError<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof InputValidationError || error instanceof RatingInputError) throw new BillingError('catalog', error.message, { cause: error });
    throw error;
  }
}
