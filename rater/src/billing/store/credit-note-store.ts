import { Decimal } from '@flowbill/shared/money/index';
import type { Queryable } from '@flowbill/shared/postgres/index';
import type { BillLine } from '../rating/bill-line.js';
import { totalsOf, type Totals } from '../rating/document.js';
import { fromLineRow, type LineRow } from './line-rows.js';

export interface CreditNoteLine {
  id: string;
  lineNo: number;
  creditedLineId: string;
  /** The credited line with quantity, money and tier amounts negated. */
  line: BillLine;
}

export interface CreditNote {
  id: string;
  invoiceId: string;
  correctionId: string;
  subscriberId: string;
  periodKey: string;
  revision: number;
  currency: string;
  reason: string;
  totals: Totals;
  issuedAt: Date;
  lines: CreditNoteLine[];
}

export const creditNoteIdFor = (subscriberId: string, periodKey: string, revision: number) => `CN-${subscriberId}-${periodKey}-${revision}`;

/** A credited line as it appears on the credit note: the same charge, every amount negated. */
export function negateLine(line: BillLine): BillLine {
  const negate = (value: string) => new Decimal(value).negated().toFixed(fractionDigits(value));
  return {
    ...line,
    quantity: negate(line.quantity),
    amount: negate(line.amount),
    tax: negate(line.tax),
    net: negate(line.net),
    gross: negate(line.gross),
    usage: line.usage === null ? null : { ...line.usage, bytes: (-BigInt(line.usage.bytes)).toString() },
    tiers:
      line.tiers === null
        ? null
        : line.tiers.map((tier) => ({ ...tier, units: negate(tier.units), exactAmount: negate(tier.exactAmount), amount: negate(tier.amount) })),
  };
}

export async function insertCreditNote(
  client: Queryable,
  note: Omit<CreditNote, 'totals' | 'lines'>,
  credited: readonly { lineId: string; line: BillLine }[],
): Promise<void> {
  const negated = credited.map((entry) => negateLine(entry.line));
  const totals = totalsOf(negated, note.currency);
  await client.query(
    `INSERT INTO credit_notes (id, invoice_id, correction_id, subscriber_id, period_key, revision, currency, reason, total_net, total_tax, total_gross, issued_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [note.id, note.invoiceId, note.correctionId, note.subscriberId, note.periodKey, note.revision, note.currency, note.reason, totals.net, totals.tax, totals.gross, note.issuedAt],
  );
  if (negated.length === 0) return;
  await client.query(
    `INSERT INTO credit_note_lines (id, credit_note_id, line_no, credited_line_id, quantity, amount, tax, net, gross, tiers)
     SELECT r.id, r.credit_note_id, r.line_no, r.credited_line_id, r.quantity, r.amount, r.tax, r.net, r.gross, r.tiers
     FROM jsonb_to_recordset($1::jsonb) AS r (id text, credit_note_id text, line_no integer, credited_line_id text,
       quantity numeric, amount numeric, tax numeric, net numeric, gross numeric, tiers jsonb)`,
    [
      JSON.stringify(
        negated.map((line, index) => ({
          id: `${note.id}/${index + 1}`,
          credit_note_id: note.id,
          line_no: index + 1,
          credited_line_id: credited[index].lineId,
          quantity: line.quantity,
          amount: line.amount,
          tax: line.tax,
          net: line.net,
          gross: line.gross,
          tiers: line.tiers,
        })),
      ),
    ],
  );
}

interface CreditNoteRow {
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
}

/** Credit notes issued against a period's invoice, with their lines (joined to the lines they credit). */
export async function loadCreditNotes(client: Queryable, invoiceId: string): Promise<CreditNote[]> {
  const notes = await client.query<CreditNoteRow>('SELECT * FROM credit_notes WHERE invoice_id = $1 ORDER BY revision', [invoiceId]);
  if (notes.rows.length === 0) return [];
  const lines = await client.query<
    LineRow & { cn_id: string; cn_credit_note_id: string; cn_line_no: number; cn_quantity: string; cn_amount: string; cn_tax: string; cn_net: string; cn_gross: string; cn_tiers: BillLine['tiers'] }
  >(
    `SELECT l.*, c.id AS cn_id, c.credit_note_id AS cn_credit_note_id, c.line_no AS cn_line_no, c.quantity AS cn_quantity,
            c.amount AS cn_amount, c.tax AS cn_tax, c.net AS cn_net, c.gross AS cn_gross, c.tiers AS cn_tiers
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
    issuedAt: note.issued_at,
    lines: lines.rows
      .filter((row) => row.cn_credit_note_id === note.id)
      .map((row) => {
        const credited = fromLineRow(row);
        return {
          id: row.cn_id,
          lineNo: row.cn_line_no,
          creditedLineId: row.id,
          line: {
            ...negateLine(credited),
            quantity: row.cn_quantity,
            amount: row.cn_amount,
            tax: row.cn_tax,
            net: row.cn_net,
            gross: row.cn_gross,
            tiers: row.cn_tiers,
          },
        };
      }),
  }));
}

function fractionDigits(value: string): number {
  const dot = value.indexOf('.');
  return dot === -1 ? 0 : value.length - dot - 1;
}
