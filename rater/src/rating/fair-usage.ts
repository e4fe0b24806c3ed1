import { toDecimal } from '@flowbill/shared/money/index';
import type { TariffRef } from '../schema/primitives.js';
import { bytesPerUnit } from '../tariff/data-units.js';
import type { SpeedProfile } from '../tariff/tariff-schema.js';
import { formatInstant, type EpochMillis } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { segmentAllowance } from './allowance.js';
import type { SegmentContext } from './segment-context.js';
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

/**
 * Walks the segment's matching buckets in time order and reports the first
 * one after which usage is above the threshold ("up to N GB at full speed":
 * using exactly N is still fair). At most one event per segment.
 */
export function detectFairUsageCrossing(context: SegmentContext, buckets: readonly UsageBucket[]): FairUsageEvent | null {
  const policy = context.tariff.fairUsage;
  if (!policy) return null;
  const thresholdBytes = segmentAllowance(policy.thresholdUnits, context).times(toDecimal(bytesPerUnit(policy.measure.unit, policy.measure.base)));
  // A segment shorter than one proration unit (e.g. within a single day by day) has a zero allowance; throttling on its first byte would be absurd.
  if (thresholdBytes.isZero()) return null;
  const ordered = buckets
    .map((bucket, order) => ({ bucket, order }))
    .filter(({ bucket }) => bucket.class === policy.class && directionMatches(policy.direction, bucket.direction))
    .sort((left, right) => left.bucket.start - right.bucket.start || left.order - right.order);
  let usedBytes = 0n;
  for (const { bucket } of ordered) {
    usedBytes += bucket.bytes;
    if (toDecimal(usedBytes).greaterThan(thresholdBytes)) {
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
