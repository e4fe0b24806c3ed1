/**
 * Errors of the billing layer. One class with a `code`, so the job and API layers can
 * map a refusal to a retry policy or an HTTP status without string matching.
 */
export type BillingErrorCode =
  /** A subscriber, subscription, tariff, invoice or promotion that does not exist. */
  | 'not-found'
  /** Catalog input that contradicts what is stored (same version, other body; overlapping add-on). */
  | 'conflict'
  /** Catalog data that cannot be rated (no version in force, mixed currencies, override of a missing fee). */
  | 'catalog'
  /** finalize before the period's end plus the grace period. */
  | 'too-early'
  /** An operation that needs a finalized invoice (late usage, re-rating) on a period that has none. */
  | 'not-finalized'
  /** A period with no subscription and nothing carried over: there is nothing to invoice. */
  | 'nothing-to-bill'
  /** Usage of a finalized period went down: data was removed, which billing must not paper over. */
  | 'usage-decreased'
  /** mirrorInvoice on a draft or void invoice: only finalized documents are mirrored. */
  | 'not-mirrorable';

export class BillingError extends Error {
  override readonly name = 'BillingError';

  constructor(
    readonly code: BillingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
