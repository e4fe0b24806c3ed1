import type { BillingPeriod } from '../period/billing-period.js';
import type { Subscription } from '../subscription/subscription-schema.js';
import type { Tariff } from '../tariff/tariff-schema.js';
import type { EpochMillis } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';

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

/**
 * A segment's usage: the buckets of `buckets` that start in [from, to). Lets
 * every segment read the subscriber's usage in place, without a copy per
 * segment; a plain array means all of its buckets.
 */
export interface SegmentUsage {
  buckets: readonly UsageBucket[];
  from: EpochMillis;
  to: EpochMillis;
}

export function segmentUsage(usage: SegmentUsage | readonly UsageBucket[]): SegmentUsage {
  return Array.isArray(usage) ? { buckets: usage as readonly UsageBucket[], from: -Infinity, to: Infinity } : (usage as SegmentUsage);
}
