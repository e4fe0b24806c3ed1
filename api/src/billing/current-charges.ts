/**
 * The open period's accrued charges. Which period is open is the rater's rule (the
 * subscriber's time zone and billing cycle), so it is asked, not re-implemented; the
 * charges themselves are the accrual the rater's accrue job stored (accruals table).
 */
import { billingPeriodContaining, type BillingCycle } from '@flowbill/rater';
import type { Queryable } from '@flowbill/shared/postgres/index';
import type { z } from 'zod';
import type { currentChargesSchema, lineSchema } from './schemas.js';

type CurrentCharges = z.infer<typeof currentChargesSchema>;
type AccruedLine = NonNullable<CurrentCharges['accrued']>['lines'][number];

/** A line as the billing service stores it in accruals.lines (its BillLine: instants in epoch ms). */
interface StoredLine {
  key: string;
  chargeKey: string;
  section: string;
  referencePeriodKey: string;
  adjustmentId: string | null;
  kind: z.infer<typeof lineSchema>['kind'];
  description: string;
  tariff: { id: string; version: number };
  chargeId: string;
  coversStart: number;
  coversEnd: number;
  billableAt: number;
  timing: 'advance' | 'arrears';
  quantity: string;
  unit: string;
  unitPrice: string | null;
  amount: string;
  tax: string;
  net: string;
  gross: string;
  taxRule: AccruedLine['taxRule'];
  trafficClass: string | null;
  direction: AccruedLine['direction'];
  proration: AccruedLine['proration'];
  usage: AccruedLine['usage'];
  tiers: AccruedLine['tiers'];
  discount: AccruedLine['discount'];
  adjustment: AccruedLine['adjustment'];
}

function toAccruedLine(line: StoredLine, index: number): AccruedLine {
  const { coversStart, coversEnd, billableAt, ...rest } = line;
  return {
    ...rest,
    lineNo: index + 1,
    covers: { start: new Date(coversStart).toISOString(), end: new Date(coversEnd).toISOString() },
    billableAt: new Date(billableAt).toISOString(),
  };
}

export type CurrentChargesResult = { kind: 'no-subscriber' } | { kind: 'no-subscription' } | { kind: 'ok'; charges: CurrentCharges };

export async function loadCurrentCharges(db: Queryable, subscriberId: string, now: number): Promise<CurrentChargesResult> {
  const subscriber = await db.query<{ time_zone: string; billing_cycle: 'calendar-month' | 'anniversary' | null; anchor_day: number | null }>(
    `SELECT s.time_zone, sub.billing_cycle, sub.anchor_day
     FROM subscribers s LEFT JOIN subscriptions sub ON sub.subscriber_id = s.id
     WHERE s.id = $1`,
    [subscriberId],
  );
  if (subscriber.rows.length === 0) return { kind: 'no-subscriber' };
  const row = subscriber.rows[0];
  if (row.billing_cycle === null) return { kind: 'no-subscription' };
  const cycle: BillingCycle = row.billing_cycle === 'anniversary' ? { kind: 'anniversary', anchorDay: row.anchor_day as number } : { kind: 'calendar-month' };
  const period = billingPeriodContaining(now, cycle, row.time_zone);

  const accrual = await db.query<{
    as_of: Date;
    usage_until: Date;
    computed_at: Date;
    currency: string;
    total_net: string;
    total_tax: string;
    total_gross: string;
    taxes: NonNullable<CurrentCharges['accrued']>['taxes'];
    lines: StoredLine[];
  }>(
    `SELECT as_of, usage_until, computed_at, currency, total_net::text, total_tax::text, total_gross::text, taxes, lines
     FROM accruals WHERE subscriber_id = $1 AND period_key = $2`,
    [subscriberId, period.key],
  );
  const found = accrual.rows[0];
  return {
    kind: 'ok',
    charges: {
      subscriberId,
      period: { key: period.key, start: new Date(period.start).toISOString(), end: new Date(period.end).toISOString(), timeZone: period.timeZone },
      accrued:
        found === undefined
          ? null
          : {
              asOf: found.as_of.toISOString(),
              usageUntil: found.usage_until.toISOString(),
              computedAt: found.computed_at.toISOString(),
              currency: found.currency,
              totals: { net: found.total_net, tax: found.total_tax, gross: found.total_gross },
              taxes: found.taxes,
              lines: found.lines.map(toAccruedLine),
            },
    },
  };
}
