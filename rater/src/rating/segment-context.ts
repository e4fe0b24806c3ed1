import type { BillingPeriod } from '../period/billing-period.js';
import type { Subscription } from '../subscription/subscription-schema.js';
import type { Tariff } from '../tariff/tariff-schema.js';
import type { EpochMillis } from '../time/zoned-time.js';

/** One tariff segment clipped to the period being rated: [start, end) ⊆ [period.start, period.end). */
export interface SegmentContext {
  segmentIndex: number;
  tariff: Tariff;
  start: EpochMillis;
  end: EpochMillis;
  period: BillingPeriod;
  subscription: Subscription;
}

export function segmentLabel(context: SegmentContext): string {
  return `s${context.segmentIndex}`;
}
