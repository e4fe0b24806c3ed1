/**
 * Everything billing stores about one subscriber, in a stable order, for "running the
 * job again changes nothing" comparisons: every billing table in PostgreSQL and the
 * collapsed (FINAL) ClickHouse mirror.
 *
 * Left out, on purpose: accruals.computed_at (when the snapshot was last computed, a
 * timestamp of the run rather than part of the result) and line_items.mirror_version
 * (the mirror's copy counter that ReplacingMergeTree collapses on).
 */
import type { ClickHouse } from '@flowbill/shared/clickhouse/index';
import { sql, str } from '@flowbill/shared/clickhouse/sql';
import type pg from 'pg';

export async function billingState(pool: pg.Pool, ch: ClickHouse, subscriberId: string): Promise<Record<string, unknown[]>> {
  const q = async (sql: string) => (await pool.query(sql, [subscriberId])).rows;
  return {
    invoices: await q('SELECT * FROM invoices WHERE subscriber_id = $1 ORDER BY id'),
    invoiceLines: await q('SELECT l.* FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.subscriber_id = $1 ORDER BY l.id'),
    invoiceTariffVersions: await q(
      'SELECT v.* FROM invoice_tariff_versions v JOIN invoices i ON i.id = v.invoice_id WHERE i.subscriber_id = $1 ORDER BY v.invoice_id, v.tariff_id, v.version',
    ),
    creditNotes: await q('SELECT * FROM credit_notes WHERE subscriber_id = $1 ORDER BY id'),
    creditNoteLines: await q('SELECT c.* FROM credit_note_lines c JOIN credit_notes n ON n.id = c.credit_note_id WHERE n.subscriber_id = $1 ORDER BY c.id'),
    watermarks: await q('SELECT * FROM usage_watermarks WHERE subscriber_id = $1 ORDER BY period_key, revision'),
    adjustments: await q('SELECT * FROM late_usage_adjustments WHERE subscriber_id = $1 ORDER BY id'),
    accruals: await q('SELECT subscriber_id, period_key, as_of, usage_until, currency, total_net, total_tax, total_gross, taxes, lines FROM accruals WHERE subscriber_id = $1 ORDER BY period_key'),
    mirror: await ch.query(
      sql`SELECT line_id, document_id, document_kind, period_key, reference_period_key, line_kind, quantity, usage_bytes, amount_text, net_text, tax_text, gross_text
          FROM line_items FINAL WHERE subscriber_id = ${str(subscriberId)} ORDER BY line_id`,
    ),
  };
}
