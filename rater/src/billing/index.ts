/**
 * @flowbill/rater/billing/index: the persistence side of rating (catalog, invoices,
 * corrections, accruals, the ClickHouse mirror). The pure rating core in ../ stays pure;
 * this layer feeds it from PostgreSQL and ClickHouse and stores what it returns.
 */
export { BillingService, type BillingServiceOptions } from './billing-service.js';
export { BillingError, type BillingErrorCode } from './errors.js';
export type { SubscriptionRecord, TariffVersionRecord, PromotionDiscount } from './catalog/records.js';
export type { RatingBasis, RatingSection } from './catalog/rating-basis.js';
export type { BillLine, AdjustmentDetail, ChargeSummary } from './rating/bill-line.js';
export type { Totals, TaxTotal } from './rating/document.js';
export type { RatingInput } from './operations/rating-input.js';
export type { LateUsageResult } from './operations/late-usage.js';
export type { RerateResult } from './operations/rerate.js';
export type { PublishedTariffVersion, PromotionInput, InstantInput } from './operations/tariff-operations.js';
export type { SubscribeInput, ChangePlanInput, AddOnInput, OverrideInput } from './operations/subscription-operations.js';
export type { Accrual } from './store/accrual-store.js';
export type { CreditNote, CreditNoteLine } from './store/credit-note-store.js';
export type { InvoiceRecord, InvoiceKind, InvoiceStatus } from './store/invoice-store.js';
export { invoiceIdFor, correctionIdFor } from './store/invoice-store.js';
export { creditNoteIdFor } from './store/credit-note-store.js';
export type { MirrorResult } from './mirror/mirror-invoice.js';
export type { UsageSnapshot, UsageTotal } from './usage/load-usage.js';
