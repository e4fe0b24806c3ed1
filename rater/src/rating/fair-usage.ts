import type { Decimal } from '@flowbill/shared/money/index';
import type { TariffRef } from '../schema/primitives.js';
import { unitBytesDecimal } from '../tariff/data-units.js';
import type { SpeedProfile } from '../tariff/tariff-schema.js';
import { formatInstant, type EpochMillis } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { segmentAllowance } from './allowance.js';
import { segmentUsage, type SegmentContext, type SegmentUsage } from './segment-context.js';
import { directionMatches } from './usage-matching.js';

/** Emitted when an unlimited plan's usage in a period first exceeds its fair-usage threshold. */
export interface FairUsageEvent {
  type: 'fair-usage-threshold-exceeded';
  subscriberId: string;
  tariff: TariffRef;
  periodKey: string;
  /** Start of the usage bucket that took the subscriber over the threshold. */
  at: string;
  thresholdBytes: string;
  usedBytes: string;
  /** The speed profile the network should now apply. */
  speedProfile: SpeedProfile;
}

/** The largest integer not above a (finite) decimal, as a bigint. */
function floorToBigInt(value: Decimal): bigint {
  return BigInt(value.floor().toFixed());
}

/**
 * Walks the segment's matching buckets in time order and reports the first
 * one after which usage is above the threshold ("up to N GB at full speed":
 * using exactly N is still fair). At most one event per segment.
 *
 * `matched`, when given, is the total of the bytes in the policy's class and
 * direction (summed by `rateUsageCharges` on its pass over the buckets): with
 * no negative counts the running total never exceeds it, so when it is within
 * the threshold there is no crossing and the walk is skipped. Byte counts are
 * whole, so "used > threshold" is "used > floor(threshold)" and is compared in
 * bigint.
 */
export function detectFairUsageCrossing(
  context: SegmentContext,
  usage: SegmentUsage | readonly UsageBucket[],
  matched?: { bytes: bigint; negative: boolean } | null,
): FairUsageEvent | null {
  const policy = context.tariff.fairUsage;
  if (!policy) return null;
  const thresholdBytes = segmentAllowance(policy.thresholdUnits, context).times(unitBytesDecimal(policy.measure.unit, policy.measure.base));
  // A segment shorter than one proration unit (e.g. within a single day by day) has a zero allowance; throttling on its first byte would be absurd.
  if (thresholdBytes.isZero()) return null;
  const limit = floorToBigInt(thresholdBytes);
  if (matched && !matched.negative && matched.bytes <= limit) return null;

  const { buckets, from, to } = segmentUsage(usage);
  const matching: UsageBucket[] = [];
  let inOrder = true;
  for (const bucket of buckets) {
    if (!(bucket.start >= from && bucket.start < to)) continue;
    if (bucket.class !== policy.class || !directionMatches(policy.direction, bucket.direction)) continue;
    if (matching.length > 0 && bucket.start < matching[matching.length - 1].start) inOrder = false;
    matching.push(bucket);
  }
  // Time order, ties in input order (a stable sort; skipped when the buckets already come in time order).
  const ordered = inOrder
    ? matching
    : matching
        .map((bucket, order) => ({ bucket, order }))
        .sort((left, right) => left.bucket.start - right.bucket.start || left.order - right.order)
        .map(({ bucket }) => bucket);
  let usedBytes = 0n;
  for (const bucket of ordered) {
    usedBytes += bucket.bytes;
    if (usedBytes > limit) {
      return crossingEvent(context, bucket.start, thresholdBytes.toFixed(), usedBytes, policy.throttledSpeed);
    }
  }
  return null;
}

function crossingEvent(context: SegmentContext, at: EpochMillis, thresholdBytes: string, usedBytes: bigint, speedProfile: SpeedProfile): FairUsageEvent {
  return {
    type: 'fair-usage-threshold-exceeded',
    subscriberId: context.subscription.subscriberId,
    tariff: { id: context.tariff.id, version: context.tariff.version },
    periodKey: context.period.key,
    at: formatInstant(at, context.period.timeZone),
    thresholdBytes,
    usedBytes: usedBytes.toString(),
    speedProfile,
  };
}
