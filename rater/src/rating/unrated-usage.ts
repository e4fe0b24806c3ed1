import type { UsageBucket } from '../usage/usage-schema.js';

/** Usage the rater saw but could not price, totalled per reason, class and direction. */
export interface UnratedUsage {
  /** `outside-subscription`: no tariff was in force at the bucket's start; `no-matching-charge`: the tariff has no charge for it. */
  reason: 'outside-subscription' | 'no-matching-charge';
  class: string;
  direction: UsageBucket['direction'];
  bucketCount: number;
  bytes: string;
}

interface UnratedTotal {
  reason: UnratedUsage['reason'];
  class: string;
  direction: UsageBucket['direction'];
  bucketCount: number;
  bytes: bigint;
}

/** Unrated buckets totalled as they are met, per reason, class and direction. */
export class UnratedTally {
  private readonly totals = new Map<UnratedUsage['reason'], Map<string, Map<string, UnratedTotal>>>();

  add(reason: UnratedUsage['reason'], bucket: UsageBucket): void {
    const total = this.slot(reason, bucket.class, bucket.direction);
    total.bucketCount += 1;
    total.bytes += bucket.bytes;
  }

  private slot(reason: UnratedUsage['reason'], trafficClass: string, direction: UsageBucket['direction']): UnratedTotal {
    let byClass = this.totals.get(reason);
    if (byClass === undefined) {
      byClass = new Map();
      this.totals.set(reason, byClass);
    }
    let byDirection = byClass.get(trafficClass);
    if (byDirection === undefined) {
      byDirection = new Map();
      byClass.set(trafficClass, byDirection);
    }
    let total = byDirection.get(direction);
    if (total === undefined) {
      total = { reason, class: trafficClass, direction, bucketCount: 0, bytes: 0n };
      byDirection.set(direction, total);
    }
    return total;
  }

  /** Adds another tally's totals to this one. */
  addAll(other: UnratedTally): void {
    for (const byClass of other.totals.values()) {
      for (const byDirection of byClass.values()) {
        for (const total of byDirection.values()) {
          const mine = this.slot(total.reason, total.class, total.direction);
          mine.bucketCount += total.bucketCount;
          mine.bytes += total.bytes;
        }
      }
    }
  }

  /** The totals in a fixed order (by reason, class, direction), whatever order the buckets came in. */
  summarize(): UnratedUsage[] {
    const keyed: [string, UnratedTotal][] = [];
    for (const byClass of this.totals.values()) {
      for (const byDirection of byClass.values()) {
        for (const total of byDirection.values()) keyed.push([JSON.stringify([total.reason, total.class, total.direction]), total]);
      }
    }
    return keyed
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
      .map(([, total]) => ({ ...total, bytes: total.bytes.toString() }));
  }
}

export function summarizeUnratedUsage(entries: readonly { bucket: UsageBucket; reason: UnratedUsage['reason'] }[]): UnratedUsage[] {
  const tally = new UnratedTally();
  for (const { bucket, reason } of entries) tally.add(reason, bucket);
  return tally.summarize();
}
