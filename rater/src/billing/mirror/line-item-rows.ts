import { DateTime } from 'luxon';
import type { BillLine } from '../rating/bill-line.js';

/** One row of the ClickHouse line_items table (see shared/migrations/clickhouse/0101_line_items.sql). */
export interface LineItemRow {
  line_id: string;
  document_id: string;
  document_kind: 'invoice' | 'correction' | 'credit-note';
  subscriber_id: string;
  period_key: string;
  reference_period_key: string;
  is_adjustment: 0 | 1;
  section: string;
  line_kind: string;
  charge_id: string;
  description: string;
  tariff_id: string;
  tariff_version: number;
  traffic_class: string;
  direction: string;
  currency: string;
  quantity: string;
  unit: string;
  /** Int64 as a decimal string (exact in JSON). */
  usage_bytes: string;
  /** Epoch seconds. */
  billable_at: number;
  revenue_date: string;
  document_date: string;
  amount_text: string;
  net_text: string;
  tax_text: string;
  gross_text: string;
  mirror_version: number;
}

export interface MirroredDocument {
  id: string;
  kind: LineItemRow['document_kind'];
  subscriberId: string;
  periodKey: string;
  currency: string;
  timeZone: string;
  /** Finalized (invoices, corrections) or issued (credit notes). */
  issuedAt: Date;
}

export function toLineItemRow(document: MirroredDocument, lineId: string, line: BillLine, mirrorVersion: number): LineItemRow {
  return {
    line_id: lineId,
    document_id: document.id,
    document_kind: document.kind,
    subscriber_id: document.subscriberId,
    period_key: document.periodKey,
    reference_period_key: line.referencePeriodKey,
    is_adjustment: line.adjustmentId === null ? 0 : 1,
    section: line.section,
    line_kind: line.kind,
    charge_id: line.chargeId,
    description: line.description,
    tariff_id: line.tariff.id,
    tariff_version: line.tariff.version,
    traffic_class: line.trafficClass ?? '',
    direction: line.direction ?? '',
    currency: document.currency,
    quantity: line.quantity,
    unit: line.unit,
    usage_bytes: line.usage?.bytes ?? '0',
    billable_at: Math.floor(line.billableAt / 1000),
    revenue_date: revenueDate(line, document.timeZone),
    document_date: localDate(document.issuedAt.getTime(), document.timeZone),
    amount_text: line.amount,
    net_text: line.net,
    tax_text: line.tax,
    gross_text: line.gross,
    mirror_version: mirrorVersion,
  };
}

/**
 * The subscriber's local day a charge counts on: the day it falls due, except that a
 * charge due at the very end of what it covers (arrears fees, usage, minimum charges,
 * due at the next period's first midnight) counts on the last day it covers, so March
 * usage is March revenue.
 */
export function revenueDate(line: BillLine, timeZone: string): string {
  const at = line.billableAt >= line.coversEnd && line.coversEnd > line.coversStart ? line.coversEnd - 1 : line.billableAt;
  return localDate(at, timeZone);
}

function localDate(instant: number, timeZone: string): string {
  return DateTime.fromMillis(instant, { zone: timeZone }).toISODate() as string;
}
