import { withTransaction } from '@flowbill/shared/postgres/index';
import { BillingError } from '../errors.js';
import type { BillingContext } from '../operations/context.js';
import { loadCreditNotes } from '../store/credit-note-store.js';
import { loadInvoice } from '../store/invoice-store.js';
import { lineId } from '../store/line-rows.js';
import { toLineItemRow, type LineItemRow } from './line-item-rows.js';

export interface MirrorResult {
  invoiceId: string;
  /** Rows written to line_items (invoice lines plus credit note lines). */
  rows: number;
  creditNoteIds: string[];
}

/**
 * Writes a finalized invoice's (or correction's) lines to ClickHouse line_items, with
 * the lines of credit notes issued against it or together with it as negative lines.
 *
 * Idempotent: line ids are the PostgreSQL ids and each line's partition is fixed by its
 * revenue date, so a repeat only adds copies that ReplacingMergeTree collapses (FINAL in
 * the views collapses them at query time already). Drafts are refused: their lines can
 * still change, and a line a draft later dropped would stay in the mirror.
 */
export async function mirrorInvoice(context: BillingContext, invoiceId: string): Promise<MirrorResult> {
  const { invoice, creditNotes } = await withTransaction(context.pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const found = await loadInvoice(client, invoiceId);
    if (found === null) throw new BillingError('not-found', `invoice ${invoiceId} does not exist`);
    if (found.status !== 'finalized') throw new BillingError('not-mirrorable', `invoice ${invoiceId} is ${found.status}; only finalized documents are mirrored`);
    const { rows } = await client.query<{ invoice_id: string }>('SELECT DISTINCT invoice_id FROM credit_notes WHERE invoice_id = $1 OR correction_id = $1', [invoiceId]);
    const notes = (await Promise.all(rows.map((row) => loadCreditNotes(client, row.invoice_id)))).flat();
    return { invoice: found, creditNotes: notes.filter((note) => note.invoiceId === invoiceId || note.correctionId === invoiceId) };
  });

  const version = Date.now();
  const rows: LineItemRow[] = invoice.lines.map((line) =>
    toLineItemRow(
      {
        id: invoice.id,
        kind: invoice.kind,
        subscriberId: invoice.subscriberId,
        periodKey: invoice.periodKey,
        currency: invoice.currency,
        timeZone: invoice.timeZone,
        issuedAt: invoice.finalizedAt as Date,
      },
      lineId(invoice.id, line.key),
      line,
      version,
    ),
  );
  for (const note of creditNotes) {
    const document = { id: note.id, kind: 'credit-note' as const, subscriberId: note.subscriberId, periodKey: note.periodKey, currency: note.currency, timeZone: invoice.timeZone, issuedAt: note.issuedAt };
    rows.push(...note.lines.map((entry) => toLineItemRow(document, entry.id, entry.line, version)));
  }
  // One INSERT: below max_insert_block_size it is one block, so each revenue-month
  // partition gets its rows all or nothing; a failure part-way is repaired by a re-run.
  await context.clickhouse.insert('line_items', rows);
  return { invoiceId, rows: rows.length, creditNoteIds: creditNotes.map((note) => note.id) };
}
