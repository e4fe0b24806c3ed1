import type { Queryable } from '@flowbill/shared/postgres/index';
import type { BillLine } from '../rating/bill-line.js';
import { taxesOf, totalsOf, type TaxTotal, type Totals } from '../rating/document.js';

/** The running cost of a subscriber's open period. */
export interface Accrual {
  subscriberId: string;
  periodKey: string;
  asOf: Date;
  usageUntil: Date;
  currency: string;
  totals: Totals;
  taxes: TaxTotal[];
  lines: BillLine[];
  computedAt: Date;
}

interface AccrualRow {
  subscriber_id: string;
  period_key: string;
  as_of: Date;
  usage_until: Date;
  currency: string;
  total_net: string;
  total_tax: string;
  total_gross: string;
  taxes: TaxTotal[];
  lines: BillLine[];
  computed_at: Date;
}

/**
 * Replaces the period's accrual in one statement, unless a computation as of a later
 * instant is already stored: jobs may finish out of order, and the snapshot must never
 * go back in time. Returns the accrual stored afterwards.
 */
export async function storeAccrual(
  client: Queryable,
  entry: { subscriberId: string; periodKey: string; asOf: Date; usageUntil: Date; currency: string; lines: BillLine[] },
): Promise<Accrual> {
  const totals = totalsOf(entry.lines, entry.currency);
  await client.query(
    `INSERT INTO accruals (subscriber_id, period_key, as_of, usage_until, currency, total_net, total_tax, total_gross, taxes, lines)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (subscriber_id, period_key) DO UPDATE SET
       as_of = EXCLUDED.as_of, usage_until = EXCLUDED.usage_until, currency = EXCLUDED.currency,
       total_net = EXCLUDED.total_net, total_tax = EXCLUDED.total_tax, total_gross = EXCLUDED.total_gross,
       taxes = EXCLUDED.taxes, lines = EXCLUDED.lines, computed_at = now()
     WHERE accruals.as_of <= EXCLUDED.as_of`,
    [
      entry.subscriberId,
      entry.periodKey,
      entry.asOf,
      entry.usageUntil,
      entry.currency,
      totals.net,
      totals.tax,
      totals.gross,
      JSON.stringify(taxesOf(entry.lines, entry.currency)),
      JSON.stringify(entry.lines),
    ],
  );
  return (await loadAccrual(client, entry.subscriberId, entry.periodKey)) as Accrual;
}

export async function loadAccrual(client: Queryable, subscriberId: string, periodKey: string): Promise<Accrual | null> {
  const { rows } = await client.query<AccrualRow>('SELECT * FROM accruals WHERE subscriber_id = $1 AND period_key = $2', [subscriberId, periodKey]);
  if (rows.length === 0) return null;
  const row = rows[0];
  return {
    subscriberId: row.subscriber_id,
    periodKey: row.period_key,
    asOf: row.as_of,
    usageUntil: row.usage_until,
    currency: row.currency,
    totals: { net: row.total_net, tax: row.total_tax, gross: row.total_gross },
    taxes: row.taxes,
    lines: row.lines,
    computedAt: row.computed_at,
  };
}
