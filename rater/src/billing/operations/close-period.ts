import { billingPeriodForKey } from '../../period/billing-period.js';
import { basisFingerprint } from '../catalog/rating-basis.js';
import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { invoiceIdFor, loadInvoice, markFinalized, writeOpenDocument, type InvoiceRecord } from '../store/invoice-store.js';
import { loadSubscriptionRecord } from '../store/subscription-store.js';
import { insertWatermark } from '../store/watermark-store.js';
import { composeInvoice } from './compose-invoice.js';
import { withSubscriberTransaction, type BillingContext } from './context.js';

/**
 * Creates the period's draft invoice, or re-rates the existing draft in place.
 *
 * Idempotent: the id is derived from (subscriber, period), the row is upserted on the
 * invoices_one_per_period constraint, and the lines are a pure function of catalog, usage
 * and adjustments, so a second run leaves the same invoice with the same lines. Two runs
 * at once queue on the subscriber's lock; were the lock bypassed, the unique constraint
 * still allows one invoice only. A finalized invoice is returned untouched.
 */
export async function closePeriod(context: BillingContext, subscriberId: string, periodKey: string): Promise<InvoiceRecord> {
  assertPeriodKey(periodKey);
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const id = invoiceIdFor(subscriberId, periodKey);
    const existing = await loadInvoice(client, id);
    if (existing?.status === 'finalized') return existing;
    const { document, basis } = await composeInvoice(client, context.clickhouse, subscriberId, periodKey);
    if (document === null) {
      if (existing === null) throw new BillingError('nothing-to-bill', `${subscriberId} has no subscription in ${periodKey} and nothing carried over to it`);
      // The period billed something once (the draft exists) and no longer does: the draft
      // is voided rather than deleted, so whoever saw it can see why it went away.
      await writeOpenDocument(client, {
        id,
        subscriberId,
        periodKey,
        kind: 'invoice',
        revision: 0,
        status: 'void',
        period: basis.period,
        currency: existing.currency,
        lines: [],
        events: [],
        unratedUsage: [],
        ratingBasis: basis,
        basisFingerprint: basisFingerprint(basis),
        tariffRefs: [],
        correctsInvoiceId: null,
        reason: null,
      });
    } else {
      await writeOpenDocument(client, document);
    }
    return (await loadInvoice(client, id)) as InvoiceRecord;
  });
}

/**
 * Freezes the period's invoice once the period has ended and the grace period for late
 * usage has passed: re-rates the draft on all usage received so far, finalizes it and
 * records the usage it was rated from (watermark revision 1) in the same transaction.
 *
 * Idempotent: a finalized invoice is returned as it is, whatever `now` says. Before
 * period end + grace it refuses with code 'too-early' and changes nothing.
 */
export async function finalize(context: BillingContext, subscriberId: string, periodKey: string, now: Date, graceMs: number): Promise<InvoiceRecord> {
  assertPeriodKey(periodKey);
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new RangeError(`graceMs must be a non-negative integer, got ${graceMs}`);
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const id = invoiceIdFor(subscriberId, periodKey);
    const existing = await loadInvoice(client, id);
    if (existing?.status === 'finalized') return existing;

    const subscription = await loadSubscriptionRecord(client, subscriberId);
    if (subscription === null) throw new BillingError('not-found', `subscriber ${subscriberId} has no subscription`);
    const period = billingPeriodForKey(periodKey, subscription.billingCycle, subscription.timeZone);
    const closesAt = period.end + graceMs;
    if (now.getTime() < closesAt) {
      throw new BillingError(
        'too-early',
        `${periodKey} of ${subscriberId} ends ${new Date(period.end).toISOString()}; with ${graceMs} ms grace for late usage it can be finalized from ${new Date(closesAt).toISOString()}`,
      );
    }

    const { document, usage } = await composeInvoice(client, context.clickhouse, subscriberId, periodKey);
    if (document === null) throw new BillingError('nothing-to-bill', `${subscriberId} has no subscription in ${periodKey} and nothing carried over to it`);
    await writeOpenDocument(client, document);
    await markFinalized(client, id, now);
    await insertWatermark(client, { subscriberId, periodKey, revision: 1, source: 'finalize', documentId: id, usage });
    return (await loadInvoice(client, id)) as InvoiceRecord;
  });
}
