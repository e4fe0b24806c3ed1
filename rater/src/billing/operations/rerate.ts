import { basisFingerprint, basisTariffRefs } from '../catalog/rating-basis.js';
import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { rateBasis } from '../rating/document.js';
import { markSuperseded, openAdjustmentsOf } from '../store/adjustment-store.js';
import { creditNoteIdFor, insertCreditNote, loadCreditNotes, type CreditNote } from '../store/credit-note-store.js';
import { correctionIdFor, invoiceIdFor, invoiceStatus, latestRevision, loadInvoice, loadLiveStatement, markFinalized, writeOpenDocument, type InvoiceRecord } from '../store/invoice-store.js';
import { lineId } from '../store/line-rows.js';
import { insertWatermark, latestWatermark } from '../store/watermark-store.js';
import { loadUsage } from '../usage/load-usage.js';
import { loadRatingBasis } from './basis.js';
import { withSubscriberTransaction, type BillingContext } from './context.js';
import { refreshDraftAdjustments } from './draft-adjustments.js';

export type RerateResult =
  /** The catalog gives the period the terms it is already billed on: nothing issued. */
  | { outcome: 'unchanged'; statement: InvoiceRecord }
  /** A credit note cancelling every live charge of the period, and the corrected charges. */
  | { outcome: 'corrected'; creditNote: CreditNote; correction: InvoiceRecord };

/**
 * Re-rates a finalized period on the catalog as it is now (after a tariff correction, a
 * back-dated plan change, an individual price granted late). The finalized invoice is
 * never touched. Instead, in one transaction:
 * - a correction (kind 'correction', next revision) states the period's charges on the
 *   new terms and all of its usage received so far, finalized at once;
 * - a credit note cancels, line by line, what stated the period's charges until now: the
 *   live statement's own lines (the invoice, or the previous correction) and late-usage
 *   adjustment lines already on finalized invoices;
 * - late-usage adjustments still waiting on an open draft are superseded and taken off
 *   it, since the correction now includes that usage;
 * - a watermark records the usage the correction was rated from.
 *
 * Idempotent per terms: when the new rating basis has the fingerprint of the live
 * statement, nothing is issued; a repeated call after a correction finds the correction
 * live with that fingerprint.
 */
export async function rerate(context: BillingContext, subscriberId: string, periodKey: string, reason: string): Promise<RerateResult> {
  assertPeriodKey(periodKey);
  if (reason.trim() === '') throw new RangeError('rerate needs a reason: it is printed on the credit note');
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const invoiceId = invoiceIdFor(subscriberId, periodKey);
    if ((await invoiceStatus(client, invoiceId)) !== 'finalized') {
      throw new BillingError('not-finalized', `${periodKey} of ${subscriberId} has no finalized invoice; closePeriod re-rates a draft`);
    }
    const statement = (await loadLiveStatement(client, subscriberId, periodKey)) as NonNullable<Awaited<ReturnType<typeof loadLiveStatement>>>;
    const basis = await loadRatingBasis(client, subscriberId, periodKey, { forShare: true });
    const fingerprint = basisFingerprint(basis);
    if (fingerprint === statement.basisFingerprint) {
      const { ratingBasis: _basis, ...record } = statement;
      return { outcome: 'unchanged', statement: record };
    }

    const usage = await loadUsage(context.clickhouse, subscriberId, basis.period.start, basis.period.end);
    const rated = rateBasis(basis, usage.buckets);
    const revision = (await latestRevision(client, subscriberId, periodKey)) + 1;
    const correctionId = correctionIdFor(subscriberId, periodKey, revision);
    const issuedAt = context.clock();

    await writeOpenDocument(client, {
      id: correctionId,
      subscriberId,
      periodKey,
      kind: 'correction',
      revision,
      status: 'draft',
      period: basis.period,
      currency: basis.currency ?? statement.currency,
      lines: rated.lines,
      events: rated.events,
      unratedUsage: rated.unratedUsage,
      ratingBasis: basis,
      basisFingerprint: fingerprint,
      tariffRefs: basisTariffRefs(basis),
      correctsInvoiceId: invoiceId,
      reason,
    });
    await markFinalized(client, correctionId, issuedAt);

    const credited = statement.lines
      .filter((line) => line.adjustmentId === null && line.referencePeriodKey === periodKey)
      .map((line) => ({ lineId: lineId(statement.id, line.key), line }));
    const adjustments = await openAdjustmentsOf(client, subscriberId, periodKey);
    const pendingTargets = new Set<string>();
    for (const adjustment of adjustments) {
      const target = await loadInvoice(client, invoiceIdFor(subscriberId, adjustment.targetPeriodKey));
      if (target?.status === 'finalized') {
        for (const line of target.lines.filter((candidate) => candidate.adjustmentId === adjustment.id)) credited.push({ lineId: lineId(target.id, line.key), line });
      } else {
        pendingTargets.add(adjustment.targetPeriodKey);
      }
    }
    await markSuperseded(
      client,
      adjustments.map((adjustment) => adjustment.id),
      correctionId,
    );
    for (const target of pendingTargets) await refreshDraftAdjustments(client, subscriberId, target);

    const creditNoteId = creditNoteIdFor(subscriberId, periodKey, revision);
    await insertCreditNote(
      client,
      { id: creditNoteId, invoiceId, correctionId, subscriberId, periodKey, revision, currency: statement.currency, reason, issuedAt },
      credited,
    );
    const watermark = await latestWatermark(client, subscriberId, periodKey);
    await insertWatermark(client, { subscriberId, periodKey, revision: (watermark?.revision ?? 0) + 1, source: 'rerate', documentId: correctionId, usage });

    const creditNote = (await loadCreditNotes(client, invoiceId)).find((note) => note.id === creditNoteId) as CreditNote;
    return { outcome: 'corrected', creditNote, correction: (await loadInvoice(client, correctionId)) as InvoiceRecord };
  });
}
