import type { Queryable } from '@flowbill/shared/postgres/index';
import { buildRatingBasis, type RatingBasis } from '../catalog/rating-basis.js';
import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { loadSubscriptionRecord, tariffIdsOf } from '../store/subscription-store.js';
import { loadVersions } from '../store/tariff-store.js';

/**
 * The terms a subscriber's period is rated on, from the catalog as it is now. Writers
 * pass forShare so the versions they are about to reference cannot change underneath.
 */
export async function loadRatingBasis(client: Queryable, subscriberId: string, periodKey: string, options: { forShare: boolean }): Promise<RatingBasis> {
  assertPeriodKey(periodKey);
  const subscription = await loadSubscriptionRecord(client, subscriberId);
  if (subscription === null) throw new BillingError('not-found', `subscriber ${subscriberId} has no subscription`);
  const versions = await loadVersions(client, tariffIdsOf(subscription), options);
  return buildRatingBasis(subscription, versions, periodKey);
}
