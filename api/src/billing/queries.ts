/**
 * The reads behind the billing routes: plain SQL over the billing tables (schema in
 * shared/migrations/postgres/0102_billing_documents.sql, written by the rater's billing
 * service), mapped to the response shapes in schemas.ts. numeric columns come back from
 * node-postgres as strings, exactly as written, so no amount passes through a float.
 */
import type { Queryable } from '@flowbill/shared/postgres/index';
import type { z } from 'zod';
import type { creditNoteSchema, invoiceDetailSchema, invoiceSummarySchema, lineSchema, periodLineSchema } from './schemas.js';

type InvoiceSummary = z.infer<typeof invoiceSummarySchema>;
type Line = z.infer<typeof lineSchema>;

interface InvoiceRow {
  id: string;
  subscriber_id: string;
  period_key: string;
  kind: InvoiceSummary['kind'];
  revision: number;
  status: InvoiceSummary['status'];
  period_start: Date;
  period_end: Date;
  time_zone: string;
  currency: string;
  total_net: string;
  total_tax: string;
  total_gross: string;
  corrects_invoice_id: string | null;
  reason: string | null;
  created_at: Date;
  finalized_at: Date | null;
}

const INVOICE_COLUMNS = `id, subscriber_id, period_key, kind, revision, status, period_start, period_end, time_zone, currency,
  total_net::text, total_tax::text, total_gross::text, corrects_invoice_id, reason, created_at, finalized_at`;

function toSummary(row: InvoiceRow): InvoiceSummary {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    periodKey: row.period_key,
    kind: row.kind,
    revision: row.revision,
    status: row.status,
    period: { start: row.period_start.toISOString(), end: row.period_end.toISOString(), timeZone: row.time_zone },
    currency: row.currency,
    totals: { net: row.total_net, tax: row.total_tax, gross: row.total_gross },
    correctsInvoiceId: row.corrects_invoice_id,
    reason: row.reason,
    createdAt: row.created_at.toISOString(),
    finalizedAt: row.finalized_at?.toISOString() ?? null,
  };
}

interface LineRow {
  id: string;
  line_no: number;
  line_key: string;
  charge_key: string;
  section: string;
  reference_period_key: string;
  adjustment_id: string | null;
  kind: Line['kind'];
  description: string;
  tariff_id: string;
  tariff_version: number;
  charge_id: string;
  covers_start: Date;
  covers_end: Date;
  billable_at: Date;
  timing: Line['timing'];
  quantity: string;
  unit: string;
  unit_price: string | null;
  amount: string;
  tax: string;
  net: string;
  gross: string;
  tax_rule: Line['taxRule'];
  traffic_class: string | null;
  direction: Line['direction'];
  proration: Line['proration'];
  usage: Line['usage'];
  tiers: Line['tiers'];
  discount: Line['discount'];
  adjustment: Line['adjustment'];
}

const LINE_COLUMNS = `l.id, l.line_no, l.line_key, l.charge_key, l.section, l.reference_period_key, l.adjustment_id, l.kind, l.description,
  l.tariff_id, l.tariff_version, l.charge_id, l.covers_start, l.covers_end, l.billable_at, l.timing,
  l.quantity::text, l.unit, l.unit_price::text, l.amount::text, l.tax::text, l.net::text, l.gross::text,
  l.tax_rule, l.traffic_class, l.direction, l.proration, l.usage, l.tiers, l.discount, l.adjustment`;

function toLine(row: LineRow): Line {
  return {
    id: row.id,
    lineNo: row.line_no,
    key: row.line_key,
    chargeKey: row.charge_key,
    section: row.section,
    referencePeriodKey: row.reference_period_key,
    adjustmentId: row.adjustment_id,
    kind: row.kind,
    description: row.description,
    tariff: { id: row.tariff_id, version: row.tariff_version },
    chargeId: row.charge_id,
    covers: { start: row.covers_start.toISOString(), end: row.covers_end.toISOString() },
    billableAt: row.billable_at.toISOString(),
    timing: row.timing,
    quantity: row.quantity,
    unit: row.unit,
    unitPrice: row.unit_price,
    amount: row.amount,
    tax: row.tax,
    net: row.net,
    gross: row.gross,
    taxRule: row.tax_rule,
    trafficClass: row.traffic_class,
    direction: row.direction,
    proration: row.proration,
    usage: row.usage,
    tiers: row.tiers,
    discount: row.discount,
    adjustment: row.adjustment,
  };
}

export async function subscriberExists(db: Queryable, subscriberId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM subscribers WHERE id = $1', [subscriberId]);
  return rowCount === 1;
}

/** Newest period first; within a period the invoice, then its corrections. */
export async function listInvoices(db: Queryable, subscriberId: string, options: { status?: InvoiceSummary['status']; limit: number }): Promise<InvoiceSummary[]> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices
     WHERE subscriber_id = $1 AND ($2::text IS NULL OR status = $2)
     ORDER BY period_key DESC, revision ASC
     LIMIT $3`,
    [subscriberId, options.status ?? null, options.limit],
  );
  return rows.map(toSummary);
}

export async function loadInvoiceDetail(db: Queryable, invoiceId: string): Promise<z.infer<typeof invoiceDetailSchema> | null> {
  const { rows } = await db.query<InvoiceRow & { taxes: unknown; events: unknown; unrated_usage: unknown }>(
    `SELECT ${INVOICE_COLUMNS}, taxes, events, unrated_usage FROM invoices WHERE id = $1`,
    [invoiceId],
  );
  if (rows.length === 0) return null;
  const [lines, versions, creditNotes] = await Promise.all([
    db.query<LineRow>(`SELECT ${LINE_COLUMNS} FROM invoice_lines l WHERE l.invoice_id = $1 ORDER BY l.line_no`, [invoiceId]),
    db.query<{ tariff_id: string; version: number }>('SELECT tariff_id, version FROM invoice_tariff_versions WHERE invoice_id = $1 ORDER BY tariff_id, version', [invoiceId]),
    db.query<{ id: string }>('SELECT id FROM credit_notes WHERE invoice_id = $1 ORDER BY revision', [invoiceId]),
  ]);
  const row = rows[0];
  return {
    ...toSummary(row),
    taxes: row.taxes as z.infer<typeof invoiceDetailSchema>['taxes'],
    events: row.events as z.infer<typeof invoiceDetailSchema>['events'],
    unratedUsage: row.unrated_usage as z.infer<typeof invoiceDetailSchema>['unratedUsage'],
    tariffVersions: versions.rows.map((v) => ({ id: v.tariff_id, version: v.version })),
    lines: lines.rows.map(toLine),
    creditNoteIds: creditNotes.rows.map((c) => c.id),
  };
}

/**
 * Every line stating a charge of the period: the invoice's, each correction's, and
 * late-usage adjustment lines billed on later invoices (their reference period is this
 * one). Void drafts bill nothing and are left out.
 */
export async function loadPeriodLines(db: Queryable, subscriberId: string, periodKey: string): Promise<z.infer<typeof periodLineSchema>[]> {
  const { rows } = await db.query<LineRow & { invoice_id: string; invoice_kind: 'invoice' | 'correction'; invoice_status: 'draft' | 'finalized'; credited_by: string | null }>(
    `SELECT ${LINE_COLUMNS}, i.id AS invoice_id, i.kind AS invoice_kind, i.status AS invoice_status, cl.credit_note_id AS credited_by
     FROM invoice_lines l
     JOIN invoices i ON i.id = l.invoice_id
     LEFT JOIN credit_note_lines cl ON cl.credited_line_id = l.id
     WHERE i.subscriber_id = $1 AND l.reference_period_key = $2 AND i.status <> 'void'
     ORDER BY i.period_key, i.revision, l.line_no`,
    [subscriberId, periodKey],
  );
  return rows.map((row) => ({ ...toLine(row), invoiceId: row.invoice_id, invoiceKind: row.invoice_kind, invoiceStatus: row.invoice_status, creditedBy: row.credited_by }));
}

export async function invoiceExists(db: Queryable, invoiceId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM invoices WHERE id = $1', [invoiceId]);
  return rowCount === 1;
}

export async function loadCreditNotes(db: Queryable, invoiceId: string): Promise<z.infer<typeof creditNoteSchema>[]> {
  const notes = await db.query<{
    id: string;
    invoice_id: string;
    correction_id: string;
    subscriber_id: string;
    period_key: string;
    revision: number;
    currency: string;
    reason: string;
    total_net: string;
    total_tax: string;
    total_gross: string;
    issued_at: Date;
  }>(
    `SELECT id, invoice_id, correction_id, subscriber_id, period_key, revision, currency, reason,
       total_net::text, total_tax::text, total_gross::text, issued_at
     FROM credit_notes WHERE invoice_id = $1 ORDER BY revision`,
    [invoiceId],
  );
  if (notes.rows.length === 0) return [];
  const lines = await db.query<{
    id: string;
    credit_note_id: string;
    line_no: number;
    credited_line_id: string;
    description: string;
    kind: Line['kind'];
    charge_key: string;
    unit: string;
    quantity: string;
    amount: string;
    tax: string;
    net: string;
    gross: string;
    tiers: Line['tiers'];
  }>(
    `SELECT c.id, c.credit_note_id, c.line_no, c.credited_line_id, l.description, l.kind, l.charge_key, l.unit,
       c.quantity::text, c.amount::text, c.tax::text, c.net::text, c.gross::text, c.tiers
     FROM credit_note_lines c JOIN invoice_lines l ON l.id = c.credited_line_id
     WHERE c.credit_note_id = ANY($1::text[])
     ORDER BY c.credit_note_id, c.line_no`,
    [notes.rows.map((note) => note.id)],
  );
  return notes.rows.map((note) => ({
    id: note.id,
    invoiceId: note.invoice_id,
    correctionId: note.correction_id,
    subscriberId: note.subscriber_id,
    periodKey: note.period_key,
    revision: note.revision,
    currency: note.currency,
    reason: note.reason,
    totals: { net: note.total_net, tax: note.total_tax, gross: note.total_gross },
    issuedAt: note.issued_at.toISOString(),
    lines: lines.rows
      .filter((line) => line.credit_note_id === note.id)
      .map((line) => ({
        id: line.id,
        lineNo: line.line_no,
        creditedLineId: line.credited_line_id,
        description: line.description,
        kind: line.kind,
        chargeKey: line.charge_key,
        unit: line.unit,
        quantity: line.quantity,
        amount: line.amount,
        tax: line.tax,
        net: line.net,
        gross: line.gross,
        tiers: line.tiers,
      })),
  }));
}
