import type { ClickHouse } from '@flowbill/shared/clickhouse/index';
import type pg from 'pg';
import type { SubscriptionRecord } from './catalog/records.js';
import { mirrorInvoice, type MirrorResult } from './mirror/mirror-invoice.js';
import { accrue } from './operations/accrue.js';
import { closePeriod, finalize } from './operations/close-period.js';
import type { BillingContext } from './operations/context.js';
import { billLateUsage, type LateUsageResult } from './operations/late-usage.js';
import { loadRatingInput, type RatingInput } from './operations/rating-input.js';
import { rerate, type RerateResult } from './operations/rerate.js';
import {
  addAddOn,
  applyPromoCode,
  changePlan,
  endAddOn,
  setOverride,
  subscribe,
  terminate,
  type AddOnInput,
  type ChangePlanInput,
  type OverrideInput,
  type SubscribeInput,
} from './operations/subscription-operations.js';
import { publishPromotion, publishTariffVersion, type InstantInput, type PromotionInput, type PublishedTariffVersion } from './operations/tariff-operations.js';
import { loadAccrual, type Accrual } from './store/accrual-store.js';
import { loadCreditNotes, type CreditNote } from './store/credit-note-store.js';
import { loadInvoice, type InvoiceRecord } from './store/invoice-store.js';

export interface BillingServiceOptions {
  pool: pg.Pool;
  clickhouse: ClickHouse;
  /** When corrections and credit notes are issued (default: the system clock). */
  clock?: () => Date;
}

/**
 * Everything that persists rating, as explicit operations for the job and API layers.
 * Each operation that writes is one PostgreSQL transaction under the subscriber's
 * billing lock, and idempotent (see README.md, "Idempotency, operation by operation").
 * Refusals are BillingError with a `code`; invalid tariff JSON is the rater's
 * InputValidationError.
 */
export class BillingService {
  private readonly context: BillingContext;

  constructor(options: BillingServiceOptions) {
    this.context = { pool: options.pool, clickhouse: options.clickhouse, clock: options.clock ?? (() => new Date()) };
  }

  // Catalog ------------------------------------------------------------------------

  publishTariffVersion(json: unknown, effectiveFrom: InstantInput, options: { kind?: 'plan' | 'addon' } = {}): Promise<PublishedTariffVersion> {
    return publishTariffVersion(this.context, json, effectiveFrom, options);
  }

  publishPromotion(input: PromotionInput): Promise<void> {
    return publishPromotion(this.context, input);
  }

  subscribe(input: SubscribeInput): Promise<SubscriptionRecord> {
    return subscribe(this.context, input);
  }

  changePlan(input: ChangePlanInput): Promise<SubscriptionRecord> {
    return changePlan(this.context, input);
  }

  terminate(subscriberId: string, at: InstantInput): Promise<SubscriptionRecord> {
    return terminate(this.context, subscriberId, at);
  }

  addAddOn(input: AddOnInput): Promise<SubscriptionRecord> {
    return addAddOn(this.context, input);
  }

  endAddOn(subscriberId: string, addOnId: string, at: InstantInput): Promise<SubscriptionRecord> {
    return endAddOn(this.context, subscriberId, addOnId, at);
  }

  setOverride(input: OverrideInput): Promise<SubscriptionRecord> {
    return setOverride(this.context, input);
  }

  applyPromoCode(subscriberId: string, code: string, appliedAt: InstantInput): Promise<SubscriptionRecord> {
    return applyPromoCode(this.context, subscriberId, code, appliedAt);
  }

  // Rating -------------------------------------------------------------------------

  loadRatingInput(subscriberId: string, periodKey: string): Promise<RatingInput> {
    return loadRatingInput(this.context, subscriberId, periodKey);
  }

  accrue(subscriberId: string, periodKey: string, asOf: Date): Promise<Accrual> {
    return accrue(this.context, subscriberId, periodKey, asOf);
  }

  closePeriod(subscriberId: string, periodKey: string): Promise<InvoiceRecord> {
    return closePeriod(this.context, subscriberId, periodKey);
  }

  finalize(subscriberId: string, periodKey: string, now: Date, graceMs: number): Promise<InvoiceRecord> {
    return finalize(this.context, subscriberId, periodKey, now, graceMs);
  }

  billLateUsage(subscriberId: string, periodKey: string): Promise<LateUsageResult> {
    return billLateUsage(this.context, subscriberId, periodKey);
  }

  rerate(subscriberId: string, periodKey: string, reason: string): Promise<RerateResult> {
    return rerate(this.context, subscriberId, periodKey, reason);
  }

  mirrorInvoice(invoiceId: string): Promise<MirrorResult> {
    return mirrorInvoice(this.context, invoiceId);
  }

  // Reads --------------------------------------------------------------------------

  getInvoice(invoiceId: string): Promise<InvoiceRecord | null> {
    return loadInvoice(this.context.pool, invoiceId);
  }

  getCreditNotes(invoiceId: string): Promise<CreditNote[]> {
    return loadCreditNotes(this.context.pool, invoiceId);
  }

  getAccrual(subscriberId: string, periodKey: string): Promise<Accrual | null> {
    return loadAccrual(this.context.pool, subscriberId, periodKey);
  }
}
