import { reviveRatingBasis } from '../catalog/rating-basis.js';
import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { rateBasis, type RatedPeriod } from '../rating/document.js';
import { deltaLines, ledgerOf } from '../rating/line-delta.js';
import { adjustmentIdFor, insertAdjustment, openAdjustmentsOf, type Adjustment } from '../store/adjustment-store.js';
import { loadLiveStatement } from '../store/invoice-store.js';
import { insertWatermark, latestWatermark } from '../store/watermark-store.js';
import { compareUsage, loadUsage } from '../usage/load-usage.js';
import { withSubscriberTransaction, type BillingContext } from './context.js';
import { adjustmentTargetPeriod, refreshDraftAdjustments } from './draft-adjustments.js';

export interface LateUsageResult {
  /**
   * 'no-late-usage': usage equals the latest watermark, nothing done;
   * 'adjusted': adjustment lines were created for the delta;
   * 'no-charge': usage grew but no charge moved (e.g. traffic no charge prices; see unratedUsage).
   */
  outcome: 'no-late-usage' | 'adjusted' | 'no-charge';
  periodKey: string;
  /** The watermark the period's charges now stand on. */
  watermarkRevision: number;
  adjustment: Adjustment | null;
  unratedUsage: RatedPeriod['unratedUsage'];
}

/**
 * Bills usage of a finalized period that arrived after its latest watermark, as
 * adjustment lines on the next period whose invoice is still open, referencing this
 * period. The delta is "rate all usage now, minus what the period's documents already
 * state", per charge, on the same terms (the stored rating basis of the live statement),
 * so included units, tiers and discounts come out exactly as one rating of all usage.
 *
 * Idempotent: the new watermark records the usage just billed, so running again finds
 * no difference and does nothing; the adjustment id is derived from the watermark
 * revision, and late_usage_adjustments_once forbids a second adjustment for it.
 */
export async function billLateUsage(context: BillingContext, subscriberId: string, periodKey: string): Promise<LateUsageResult> {
  assertPeriodKey(periodKey);
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const statement = await loadLiveStatement(client, subscriberId, periodKey);
    const watermark = await latestWatermark(client, subscriberId, periodKey);
    if (statement === null || watermark === null) throw new BillingError('not-finalized', `${periodKey} of ${subscriberId} is not finalized; closePeriod rates its usage until then`);

    const usage = await loadUsage(context.clickhouse, subscriberId, watermark.usageFrom.getTime(), watermark.usageTo.getTime());
    const change = compareUsage(usage.totals, watermark.totals);
    if (change === 'same') return { outcome: 'no-late-usage', periodKey, watermarkRevision: watermark.revision, adjustment: null, unratedUsage: [] };
    if (change === 'shrank') {
      throw new BillingError(
        'usage-decreased',
        `usage of ${subscriberId} in ${periodKey} is now below what watermark ${watermark.revision} billed (${JSON.stringify(usage.totals)} < ${JSON.stringify(watermark.totals)}); usage was removed, refusing to credit it automatically`,
      );
    }

    const rated = rateBasis(reviveRatingBasis(statement.ratingBasis), usage.buckets);
    const open = await openAdjustmentsOf(client, subscriberId, periodKey);
    const billed = [...statement.lines.filter((line) => line.adjustmentId === null && line.referencePeriodKey === periodKey), ...open.flatMap((adjustment) => adjustment.lines)];
    const revision = watermark.revision + 1;
    const id = adjustmentIdFor(subscriberId, periodKey, revision);
    const lines = deltaLines(rated.lines, ledgerOf(billed), { adjustmentId: id, referencePeriodKey: periodKey, currency: statement.currency });

    await insertWatermark(client, { subscriberId, periodKey, revision, source: 'late-usage', documentId: null, usage });
    if (lines.length === 0) return { outcome: 'no-charge', periodKey, watermarkRevision: revision, adjustment: null, unratedUsage: rated.unratedUsage };

    const targetPeriodKey = await adjustmentTargetPeriod(client, subscriberId, periodKey);
    await insertAdjustment(client, { id, subscriberId, sourcePeriodKey: periodKey, watermarkRevision: revision, targetPeriodKey, currency: statement.currency, lines });
    await refreshDraftAdjustments(client, subscriberId, targetPeriodKey);
    const [adjustment] = (await openAdjustmentsOf(client, subscriberId, periodKey)).filter((candidate) => candidate.id === id);
    return { outcome: 'adjusted', periodKey, watermarkRevision: revision, adjustment, unratedUsage: rated.unratedUsage };
  });
}
