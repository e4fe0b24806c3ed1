import type { BillLine } from '../rating/bill-line.js';

/**
 * BillLine <-> invoice_lines row. Lines are written in one statement as a JSON array
 * through jsonb_populate_recordset, so PostgreSQL parses every value into its column
 * type (numeric from decimal strings, timestamptz from ISO text) and one INSERT carries
 * a whole invoice.
 */

/** The columns of invoice_lines, as the JSON object jsonb_populate_recordset reads. */
export interface LineRowJson {
  id: string;
  invoice_id: string;
  line_no: number;
  line_key: string;
  charge_key: string;
  section: string;
  reference_period_key: string;
  adjustment_id: string | null;
  kind: string;
  description: string;
  tariff_id: string;
  tariff_version: number;
  charge_id: string;
  covers_start: string;
  covers_end: string;
  billable_at: string;
  timing: string;
  quantity: string;
  unit: string;
  unit_price: string | null;
  amount: string;
  tax: string;
  net: string;
  gross: string;
  tax_rule: unknown;
  traffic_class: string | null;
  direction: string | null;
  proration: unknown;
  usage: unknown;
  tiers: unknown;
  discount: unknown;
  adjustment: unknown;
}

export function lineId(invoiceId: string, lineKey: string): string {
  return `${invoiceId}/${lineKey}`;
}

export function toLineRow(invoiceId: string, lineNo: number, line: BillLine): LineRowJson {
  return {
    id: lineId(invoiceId, line.key),
    invoice_id: invoiceId,
    line_no: lineNo,
    line_key: line.key,
    charge_key: line.chargeKey,
    section: line.section,
    reference_period_key: line.referencePeriodKey,
    adjustment_id: line.adjustmentId,
    kind: line.kind,
    description: line.description,
    tariff_id: line.tariff.id,
    tariff_version: line.tariff.version,
    charge_id: line.chargeId,
    covers_start: new Date(line.coversStart).toISOString(),
    covers_end: new Date(line.coversEnd).toISOString(),
    billable_at: new Date(line.billableAt).toISOString(),
    timing: line.timing,
    quantity: line.quantity,
    unit: line.unit,
    unit_price: line.unitPrice,
    amount: line.amount,
    tax: line.tax,
    net: line.net,
    gross: line.gross,
    tax_rule: line.taxRule,
    traffic_class: line.trafficClass,
    direction: line.direction,
    proration: line.proration,
    usage: line.usage,
    tiers: line.tiers,
    discount: line.discount,
    adjustment: line.adjustment,
  };
}

/** An invoice_lines row as node-postgres returns it (numeric as string, timestamptz as Date). */
export interface LineRow extends Omit<LineRowJson, 'covers_start' | 'covers_end' | 'billable_at'> {
  covers_start: Date;
  covers_end: Date;
  billable_at: Date;
}

export function fromLineRow(row: LineRow): BillLine {
  return {
    key: row.line_key,
    chargeKey: row.charge_key,
    section: row.section,
    referencePeriodKey: row.reference_period_key,
    adjustmentId: row.adjustment_id,
    kind: row.kind as BillLine['kind'],
    description: row.description,
    tariff: { id: row.tariff_id, version: row.tariff_version },
    chargeId: row.charge_id,
    coversStart: row.covers_start.getTime(),
    coversEnd: row.covers_end.getTime(),
    billableAt: row.billable_at.getTime(),
    timing: row.timing as BillLine['timing'],
    quantity: row.quantity,
    unit: row.unit,
    unitPrice: row.unit_price,
    amount: row.amount,
    tax: row.tax,
    net: row.net,
    gross: row.gross,
    taxRule: row.tax_rule as BillLine['taxRule'],
    trafficClass: row.traffic_class,
    direction: row.direction as BillLine['direction'],
    proration: row.proration as BillLine['proration'],
    usage: row.usage as BillLine['usage'],
    tiers: row.tiers as BillLine['tiers'],
    discount: row.discount as BillLine['discount'],
    adjustment: row.adjustment as BillLine['adjustment'],
  };
}
