import { DateTime } from 'luxon';
import type { LineItem } from '../../rating/line-item.js';
import type { LineKind } from '../../rating/rated-line.js';
import type { TariffRef } from '../../schema/primitives.js';

/** What a charge came to, as summed over the lines stating it so far (for adjustment lines). */
export interface ChargeSummary {
  quantity: string;
  amount: string;
  tax: string;
  net: string;
  gross: string;
  /** Bytes priced, for usage charges. */
  bytes: string | null;
}

/** Why an adjustment line says what it says: the charge before and after the late usage. */
export interface AdjustmentDetail {
  before: ChargeSummary | null;
  after: ChargeSummary | null;
}

/**
 * A line as the billing layer stores it: the rater's LineItem plus where it sits and
 * which charge it states. Instants are epoch ms (the document knows its zone); money is
 * decimal strings exactly as the rater formatted them.
 */
export interface BillLine {
  /** Unique within its document. */
  key: string;
  /** The charge across documents: "<section>:<rater line id>" (adjustments carry the charge they adjust). */
  chargeKey: string;
  section: string;
  /** The period the charge belongs to; differs from the document's for late-usage adjustments. */
  referencePeriodKey: string;
  adjustmentId: string | null;
  kind: LineKind;
  description: string;
  tariff: TariffRef;
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
  taxRule: LineItem['taxRule'];
  trafficClass: string | null;
  direction: NonNullable<LineItem['direction']> | null;
  proration: NonNullable<LineItem['proration']> | null;
  usage: NonNullable<LineItem['usage']> | null;
  tiers: NonNullable<LineItem['tiers']> | null;
  discount: NonNullable<LineItem['discount']> | null;
  adjustment: AdjustmentDetail | null;
}

export function fromLineItem(item: LineItem, section: string, periodKey: string): BillLine {
  const key = `${section}:${item.id}`;
  return {
    key,
    chargeKey: key,
    section,
    referencePeriodKey: periodKey,
    adjustmentId: null,
    kind: item.kind,
    description: item.description,
    tariff: { id: item.tariff.id, version: item.tariff.version },
    chargeId: item.chargeId,
    coversStart: instant(item.covers.start),
    coversEnd: instant(item.covers.end),
    billableAt: instant(item.billableAt),
    timing: item.timing,
    quantity: item.quantity,
    unit: item.unit,
    unitPrice: item.unitPrice,
    amount: item.amount,
    tax: item.tax,
    net: item.net,
    gross: item.gross,
    taxRule: item.taxRule,
    trafficClass: item.trafficClass ?? null,
    direction: item.direction ?? null,
    proration: item.proration ?? null,
    usage: item.usage ?? null,
    tiers: item.tiers ?? null,
    discount: item.discount ?? null,
    adjustment: null,
  };
}

function instant(iso: string): number {
  const parsed = DateTime.fromISO(iso, { setZone: true });
  if (!parsed.isValid) throw new RangeError(`the rater returned an invalid instant ${JSON.stringify(iso)}`);
  return parsed.toMillis();
}
