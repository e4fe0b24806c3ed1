import type { Queryable } from '@flowbill/shared/postgres/index';
import type { RatingBasis } from '../catalog/rating-basis.js';
import type { BillLine } from '../rating/bill-line.js';
import { taxesOf, totalsOf, type TaxTotal, type Totals } from '../rating/document.js';
import { fromLineRow, toLineRow, type LineRow } from './line-rows.js';

export type InvoiceKind = 'invoice' | 'correction';
export type InvoiceStatus = 'draft' | 'finalized' | 'void';

/** An invoice or correction as the service returns it. */
export interface InvoiceRecord {
  id: string;
  subscriberId: string;
  periodKey: string;
  kind: InvoiceKind;
  revision: number;
  status: InvoiceStatus;
  periodStart: Date;
  periodEnd: Date;
  timeZone: string;
  currency: string;
  totals: Totals;
  taxes: TaxTotal[];
  events: unknown[];
  unratedUsage: unknown[];
  basisFingerprint: string;
  correctsInvoiceId: string | null;
  reason: string | null;
  createdAt: Date;
  finalizedAt: Date | null;
  lines: BillLine[];
}

/** What a draft (or a correction about to be finalized) is written from. */
export interface OpenDocument {
  id: string;
  subscriberId: string;
  periodKey: string;
  kind: InvoiceKind;
  revision: number;
  status: 'draft' | 'void';
  period: { start: number; end: number; timeZone: string };
  currency: string;
  lines: BillLine[];
  events: unknown[];
  unratedUsage: unknown[];
  ratingBasis: RatingBasis;
  basisFingerprint: string;
  tariffRefs: { id: string; version: number }[];
  correctsInvoiceId: string | null;
  reason: string | null;
}

/** Deterministic ids: a retried job addresses the same document, and the ids read well on paper. */
export const invoiceIdFor = (subscriberId: string, periodKey: string) => `INV-${subscriberId}-${periodKey}`;
export const correctionIdFor = (subscriberId: string, periodKey: string, revision: number) => `COR-${subscriberId}-${periodKey}-${revision}`;

interface InvoiceRow {
  id: string;
  subscriber_id: string;
  period_key: string;
  kind: InvoiceKind;
  revision: number;
  status: InvoiceStatus;
  period_start: Date;
  period_end: Date;
  time_zone: string;
  currency: string;
  total_net: string;
  total_tax: string;
  total_gross: string;
  taxes: TaxTotal[];
  events: unknown[];
  unrated_usage: unknown[];
  basis_fingerprint: string;
  corrects_invoice_id: string | null;
  reason: string | null;
  created_at: Date;
  finalized_at: Date | null;
}

const HEADER_COLUMNS = `id, subscriber_id, period_key, kind, revision, status, period_start, period_end, time_zone, currency,
  total_net, total_tax, total_gross, taxes, events, unrated_usage, basis_fingerprint, corrects_invoice_id, reason, created_at, finalized_at`;

/**
 * Creates the document, or replaces a draft (or void) one in place: same id, header
 * rewritten, lines and tariff references replaced. Returns false when the document is
 * already finalized, which is then left exactly as it is.
 */
export async function writeOpenDocument(client: Queryable, document: OpenDocument): Promise<boolean> {
  const totals = totalsOf(document.lines, document.currency);
  const { rows } = await client.query(
    `INSERT INTO invoices (id, subscriber_id, period_key, kind, revision, status, period_start, period_end, time_zone, currency,
       total_net, total_tax, total_gross, taxes, events, unrated_usage, rating_basis, basis_fingerprint, corrects_invoice_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
     ON CONFLICT ON CONSTRAINT invoices_one_per_period DO UPDATE SET
       status = EXCLUDED.status, period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
       time_zone = EXCLUDED.time_zone, currency = EXCLUDED.currency, total_net = EXCLUDED.total_net,
       total_tax = EXCLUDED.total_tax, total_gross = EXCLUDED.total_gross, taxes = EXCLUDED.taxes, events = EXCLUDED.events,
       unrated_usage = EXCLUDED.unrated_usage, rating_basis = EXCLUDED.rating_basis, basis_fingerprint = EXCLUDED.basis_fingerprint
     WHERE invoices.status <> 'finalized'
     RETURNING id`,
    [
      document.id,
      document.subscriberId,
      document.periodKey,
      document.kind,
      document.revision,
      document.status,
      new Date(document.period.start),
      new Date(document.period.end),
      document.period.timeZone,
      document.currency,
      totals.net,
      totals.tax,
      totals.gross,
      JSON.stringify(taxesOf(document.lines, document.currency)),
      JSON.stringify(document.events),
      JSON.stringify(document.unratedUsage),
      JSON.stringify(document.ratingBasis),
      document.basisFingerprint,
      document.correctsInvoiceId,
      document.reason,
    ],
  );
  if (rows.length === 0) return false;
  await replaceLines(client, document.id, document.lines);
  await client.query('DELETE FROM invoice_tariff_versions WHERE invoice_id = $1', [document.id]);
  if (document.tariffRefs.length > 0) {
    await client.query(
      `INSERT INTO invoice_tariff_versions (invoice_id, tariff_id, version)
       SELECT $1, r.id, r.version FROM jsonb_to_recordset($2::jsonb) AS r (id text, version integer)`,
      [document.id, JSON.stringify(document.tariffRefs)],
    );
  }
  return true;
}

export async function replaceLines(client: Queryable, invoiceId: string, lines: readonly BillLine[]): Promise<void> {
  await client.query('DELETE FROM invoice_lines WHERE invoice_id = $1', [invoiceId]);
  if (lines.length === 0) return;
  await client.query('INSERT INTO invoice_lines SELECT * FROM jsonb_populate_recordset(NULL::invoice_lines, $1::jsonb)', [
    JSON.stringify(lines.map((line, index) => toLineRow(invoiceId, index + 1, line))),
  ]);
}

/** Rewrites a draft's lines and totals (header identity and basis unchanged). */
export async function rewriteDraftLines(client: Queryable, invoiceId: string, currency: string, lines: readonly BillLine[]): Promise<void> {
  const totals = totalsOf(lines, currency);
  await client.query(
    `UPDATE invoices SET total_net = $2, total_tax = $3, total_gross = $4, taxes = $5, status = CASE WHEN $6 THEN 'draft' ELSE status END
     WHERE id = $1 AND status <> 'finalized'`,
    [invoiceId, totals.net, totals.tax, totals.gross, JSON.stringify(taxesOf(lines, currency)), lines.length > 0],
  );
  await replaceLines(client, invoiceId, lines);
}

export async function markFinalized(client: Queryable, invoiceId: string, at: Date): Promise<void> {
  await client.query(`UPDATE invoices SET status = 'finalized', finalized_at = $2 WHERE id = $1 AND status = 'draft'`, [invoiceId, at]);
}

export async function loadInvoice(client: Queryable, invoiceId: string): Promise<InvoiceRecord | null> {
  const { rows } = await client.query<InvoiceRow>(`SELECT ${HEADER_COLUMNS} FROM invoices WHERE id = $1`, [invoiceId]);
  if (rows.length === 0) return null;
  return { ...toHeader(rows[0]), lines: await loadLines(client, invoiceId) };
}

/** The finalized document that states a period's charges now: its latest correction, or its invoice. */
export async function loadLiveStatement(client: Queryable, subscriberId: string, periodKey: string): Promise<(InvoiceRecord & { ratingBasis: unknown }) | null> {
  const { rows } = await client.query<InvoiceRow & { rating_basis: unknown }>(
    `SELECT ${HEADER_COLUMNS}, rating_basis FROM invoices
     WHERE subscriber_id = $1 AND period_key = $2 AND status = 'finalized'
     ORDER BY revision DESC LIMIT 1`,
    [subscriberId, periodKey],
  );
  if (rows.length === 0) return null;
  return { ...toHeader(rows[0]), lines: await loadLines(client, rows[0].id), ratingBasis: rows[0].rating_basis };
}

export async function latestRevision(client: Queryable, subscriberId: string, periodKey: string): Promise<number> {
  const { rows } = await client.query<{ revision: number | null }>('SELECT max(revision) AS revision FROM invoices WHERE subscriber_id = $1 AND period_key = $2', [
    subscriberId,
    periodKey,
  ]);
  return rows[0].revision ?? 0;
}

export async function invoiceStatus(client: Queryable, invoiceId: string): Promise<InvoiceStatus | null> {
  const { rows } = await client.query<{ status: InvoiceStatus }>('SELECT status FROM invoices WHERE id = $1', [invoiceId]);
  return rows[0]?.status ?? null;
}

export async function loadLines(client: Queryable, invoiceId: string): Promise<BillLine[]> {
  const { rows } = await client.query<LineRow>('SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no', [invoiceId]);
  return rows.map(fromLineRow);
}

function toHeader(row: InvoiceRow): Omit<InvoiceRecord, 'lines'> {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    periodKey: row.period_key,
    kind: row.kind,
    revision: row.revision,
    status: row.status,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    timeZone: row.time_zone,
    currency: row.currency,
    totals: { net: row.total_net, tax: row.total_tax, gross: row.total_gross },
    taxes: row.taxes,
    events: row.events,
    unratedUsage: row.unrated_usage,
    basisFingerprint: row.basis_fingerprint,
    correctsInvoiceId: row.corrects_invoice_id,
    reason: row.reason,
    createdAt: row.created_at,
    finalizedAt: row.finalized_at,
  };
}
