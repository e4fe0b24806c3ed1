/**
 * Job handlers over the billing service, and the chain between them:
 *
 *   close ──(draft)──> finalize at period end + grace ──> mirror invoice
 *                                                    └──> late-usage checks at +h1, +h2 ...
 *   rerate ──(corrected)──> mirror correction (with its credit note)
 *
 * Each step is enqueued only after the step before it committed, under a deterministic
 * id, so a handler that dies between its commit and the enqueue is simply run again
 * (its operation is idempotent) and enqueues the same ids. Every service operation is a
 * single PostgreSQL transaction under the subscriber's billing lock.
 *
 * Refusals that retrying cannot fix (a missing subscriber or invoice, a catalog that
 * cannot rate, usage that shrank) fail the job at once with UnrecoverableError: it stays
 * in the failed set with its message until someone fixes the data and retries it.
 */
import { UnrecoverableError } from 'bullmq';
import { BillingError, type BillingErrorCode, type BillingService } from '../billing/index.js';
import type { JobData } from './job-types.js';
import type { RatingQueues } from './rating-queues.js';
import type { RatingJobHandlers } from './rating-workers.js';

/** The part of BillingService the jobs use (the class itself satisfies it). */
export type BillingOperations = Pick<BillingService, 'accrue' | 'closePeriod' | 'finalize' | 'billLateUsage' | 'rerate' | 'mirrorInvoice'>;

export interface BillingHandlerOptions {
  /** Time after a period's end during which late usage still goes on its invoice. */
  readonly graceMs: number;
  /** Hours after finalization at which late usage is looked for (one job each). */
  readonly lateUsageHours: readonly number[];
  readonly now?: () => number;
}

const PERMANENT: ReadonlySet<BillingErrorCode> = new Set(['not-found', 'catalog', 'usage-decreased', 'not-mirrorable', 'not-finalized', 'conflict']);

/** Run a service call; permanent refusals become UnrecoverableError (no pointless retries). */
async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BillingError && PERMANENT.has(error.code)) throw new UnrecoverableError(`${error.code}: ${error.message}`);
    throw error;
  }
}

function isNothingToBill(error: unknown): boolean {
  return error instanceof BillingError && error.code === 'nothing-to-bill';
}

export function billingHandlers(service: BillingOperations, options: BillingHandlerOptions): RatingJobHandlers {
  const now = options.now ?? Date.now;

  const afterFinalized = async (queues: RatingQueues, data: JobData['finalize'], invoiceId: string, finalizedAt: number) => {
    await queues.add('mirror', { invoiceId });
    await queues.addMany(
      'lateUsage',
      options.lateUsageHours.map((afterHours) => ({ data: { ...data, afterHours }, at: finalizedAt + afterHours * 3_600_000 })),
    );
  };

  return {
    async accrue({ subscriberId, periodKey, asOf }) {
      try {
        const accrual = await call(() => service.accrue(subscriberId, periodKey, new Date(asOf)));
        return { asOf: accrual.asOf.toISOString(), currency: accrual.currency, totals: accrual.totals };
      } catch (error) {
        // No subscription in that period (not yet active, or ended): nothing accrues, nothing is wrong.
        if (isNothingToBill(error)) return { skipped: 'nothing-to-bill' };
        throw error;
      }
    },

    async close(data, { queues }) {
      let invoice;
      try {
        invoice = await call(() => service.closePeriod(data.subscriberId, data.periodKey));
      } catch (error) {
        if (isNothingToBill(error)) return { skipped: 'nothing-to-bill' };
        throw error;
      }
      if (invoice.status === 'draft') {
        await queues.add('finalize', data, { at: invoice.periodEnd.getTime() + options.graceMs });
      } else if (invoice.status === 'finalized') {
        // Closed again after finalization (a repeated job): make sure the chain after it exists.
        await afterFinalized(queues, data, invoice.id, (invoice.finalizedAt as Date).getTime());
      }
      return { invoiceId: invoice.id, status: invoice.status, totals: invoice.totals };
    },

    async finalize(data, { queues, deferUntil }) {
      let invoice;
      try {
        invoice = await call(() => service.finalize(data.subscriberId, data.periodKey, new Date(now()), options.graceMs));
      } catch (error) {
        // Ran early (clock skew, a changed time zone, a manual retry): come back later, no attempt spent.
        if (error instanceof BillingError && error.code === 'too-early') return deferUntil(now() + Math.min(options.graceMs, 3_600_000) + 1_000);
        if (isNothingToBill(error)) return { skipped: 'nothing-to-bill' };
        throw error;
      }
      await afterFinalized(queues, data, invoice.id, (invoice.finalizedAt as Date).getTime());
      return { invoiceId: invoice.id, status: invoice.status, totals: invoice.totals };
    },

    async lateUsage({ subscriberId, periodKey }) {
      const result = await call(() => service.billLateUsage(subscriberId, periodKey));
      // Adjustment lines go on the next open draft; they are mirrored when that invoice is finalized.
      return { outcome: result.outcome, watermarkRevision: result.watermarkRevision, adjustmentId: result.adjustment?.id ?? null };
    },

    async rerate({ subscriberId, periodKey, reason }, { queues }) {
      const result = await call(() => service.rerate(subscriberId, periodKey, reason));
      if (result.outcome === 'unchanged') return { outcome: 'unchanged', statementId: result.statement.id };
      await queues.add('mirror', { invoiceId: result.correction.id });
      return { outcome: 'corrected', correctionId: result.correction.id, creditNoteId: result.creditNote.id, totals: result.correction.totals };
    },

    async mirror({ invoiceId }) {
      const result = await call(() => service.mirrorInvoice(invoiceId));
      return { rows: result.rows, creditNoteIds: result.creditNoteIds };
    },
  };
}
