import type { Queryable } from '@flowbill/shared/postgres/index';
import type { ClickHouse } from '@flowbill/shared/clickhouse/index';
import { basisFingerprint, basisTariffRefs, type RatingBasis } from '../catalog/rating-basis.js';
import { BillingError } from '../errors.js';
import type { BillLine } from '../rating/bill-line.js';
import { rateBasis } from '../rating/document.js';
import { openAdjustmentsBilledIn, type Adjustment } from '../store/adjustment-store.js';
import { invoiceIdFor, type OpenDocument } from '../store/invoice-store.js';
import { loadUsage, type UsageSnapshot } from '../usage/load-usage.js';
import { loadRatingBasis } from './basis.js';

export interface ComposedInvoice {
  basis: RatingBasis;
  usage: UsageSnapshot;
  /** null: no subscription in the period and nothing carried over to it. */
  document: OpenDocument | null;
}

/**
 * A period's invoice as it would be now: the period rated on the current catalog and
 * all of its usage so far, followed by the late-usage adjustments billed on it. A pure
 * function of the catalog, the usage and the adjustments, so composing it again gives
 * the same lines, and closing a period twice rewrites the draft with what it already says.
 */
export async function composeInvoice(client: Queryable, clickhouse: ClickHouse, subscriberId: string, periodKey: string, usageUntil?: number): Promise<ComposedInvoice> {
  const basis = await loadRatingBasis(client, subscriberId, periodKey, { forShare: true });
  const end = usageUntil === undefined ? basis.period.end : Math.max(basis.period.start, Math.min(usageUntil, basis.period.end));
  const usage = await loadUsage(clickhouse, subscriberId, basis.period.start, end);
  const rated = rateBasis(basis, usage.buckets);
  const adjustments = await openAdjustmentsBilledIn(client, subscriberId, periodKey);
  const currency = documentCurrency(basis.currency, adjustments, `${subscriberId} ${periodKey}`);
  if (currency === null) return { basis, usage, document: null };
  const lines: BillLine[] = [...rated.lines, ...adjustments.flatMap((adjustment) => adjustment.lines)];
  return {
    basis,
    usage,
    document: {
      id: invoiceIdFor(subscriberId, periodKey),
      subscriberId,
      periodKey,
      kind: 'invoice',
      revision: 0,
      status: 'draft',
      period: basis.period,
      currency,
      lines,
      events: rated.events,
      unratedUsage: rated.unratedUsage,
      ratingBasis: basis,
      basisFingerprint: basisFingerprint(basis),
      tariffRefs: basisTariffRefs(basis),
      correctsInvoiceId: null,
      reason: null,
    },
  };
}

/** One document, one currency: adjustments carried over must be in the period's currency. */
export function documentCurrency(ratedCurrency: string | null, adjustments: readonly Adjustment[], what: string): string | null {
  const currencies = new Set([...(ratedCurrency === null ? [] : [ratedCurrency]), ...adjustments.map((adjustment) => adjustment.currency)]);
  if (currencies.size > 1) throw new BillingError('catalog', `${what}: adjustments in ${[...currencies].join(', ')} cannot be billed on one invoice`);
  return currencies.size === 0 ? null : [...currencies][0];
}
