import type { Queryable } from '@flowbill/shared/postgres/index';
import type { BillLine } from '../rating/bill-line.js';
import { totalsOf, type Totals } from '../rating/document.js';

/** Charges for usage of `sourcePeriodKey` that arrived after its invoice, billed on `targetPeriodKey`. */
export interface Adjustment {
  id: string;
  subscriberId: string;
  sourcePeriodKey: string;
  watermarkRevision: number;
  targetPeriodKey: string;
  currency: string;
  lines: BillLine[];
  totals: Totals;
  supersededBy: string | null;
  createdAt: Date;
}

interface AdjustmentRow {
  id: string;
  subscriber_id: string;
  source_period_key: string;
  watermark_revision: number;
  target_period_key: string;
  currency: string;
  lines: BillLine[];
  total_net: string;
  total_tax: string;
  total_gross: string;
  superseded_by: string | null;
  created_at: Date;
}

export const adjustmentIdFor = (subscriberId: string, periodKey: string, watermarkRevision: number) => `ADJ-${subscriberId}-${periodKey}-${watermarkRevision}`;

export async function insertAdjustment(client: Queryable, adjustment: Omit<Adjustment, 'totals' | 'supersededBy' | 'createdAt'>): Promise<void> {
  const totals = totalsOf(adjustment.lines, adjustment.currency);
  await client.query(
    `INSERT INTO late_usage_adjustments (id, subscriber_id, source_period_key, watermark_revision, target_period_key, currency, lines, total_net, total_tax, total_gross)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      adjustment.id,
      adjustment.subscriberId,
      adjustment.sourcePeriodKey,
      adjustment.watermarkRevision,
      adjustment.targetPeriodKey,
      adjustment.currency,
      JSON.stringify(adjustment.lines),
      totals.net,
      totals.tax,
      totals.gross,
    ],
  );
}

/** Adjustments still in force that are billed on `targetPeriodKey`, in the order they arose. */
export async function openAdjustmentsBilledIn(client: Queryable, subscriberId: string, targetPeriodKey: string): Promise<Adjustment[]> {
  const { rows } = await client.query<AdjustmentRow>(
    `SELECT * FROM late_usage_adjustments
     WHERE subscriber_id = $1 AND target_period_key = $2 AND superseded_by IS NULL
     ORDER BY source_period_key, watermark_revision`,
    [subscriberId, targetPeriodKey],
  );
  return rows.map(toAdjustment);
}

/** Adjustments still in force for usage of `sourcePeriodKey`. */
export async function openAdjustmentsOf(client: Queryable, subscriberId: string, sourcePeriodKey: string): Promise<Adjustment[]> {
  const { rows } = await client.query<AdjustmentRow>(
    `SELECT * FROM late_usage_adjustments
     WHERE subscriber_id = $1 AND source_period_key = $2 AND superseded_by IS NULL
     ORDER BY watermark_revision`,
    [subscriberId, sourcePeriodKey],
  );
  return rows.map(toAdjustment);
}

export async function markSuperseded(client: Queryable, adjustmentIds: readonly string[], correctionId: string): Promise<void> {
  if (adjustmentIds.length === 0) return;
  await client.query('UPDATE late_usage_adjustments SET superseded_by = $2 WHERE id = ANY($1::text[]) AND superseded_by IS NULL', [[...adjustmentIds], correctionId]);
}

function toAdjustment(row: AdjustmentRow): Adjustment {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    sourcePeriodKey: row.source_period_key,
    watermarkRevision: row.watermark_revision,
    targetPeriodKey: row.target_period_key,
    currency: row.currency,
    lines: row.lines,
    totals: { net: row.total_net, tax: row.total_tax, gross: row.total_gross },
    supersededBy: row.superseded_by,
    createdAt: row.created_at,
  };
}
