import { withTransaction } from '@flowbill/shared/postgres/index';
import type { RatingBasis } from '../catalog/rating-basis.js';
import { loadUsage, type UsageSnapshot } from '../usage/load-usage.js';
import { loadRatingBasis } from './basis.js';
import type { BillingContext } from './context.js';

/** What a period is rated from: the terms (tariffs and timelines per section) and the usage. */
export interface RatingInput {
  basis: RatingBasis;
  usage: UsageSnapshot;
}

/**
 * Reads without writing or locking: a read-only REPEATABLE READ transaction gives one
 * consistent snapshot of the catalog across its several queries.
 */
export async function loadRatingInput(context: BillingContext, subscriberId: string, periodKey: string): Promise<RatingInput> {
  return withTransaction(context.pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const basis = await loadRatingBasis(client, subscriberId, periodKey, { forShare: false });
    const usage = await loadUsage(context.clickhouse, subscriberId, basis.period.start, basis.period.end);
    return { basis, usage };
  });
}
