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

export function summarizeUnratedUsage(entries: readonly { bucket: UsageBucket; reason: UnratedUsage['reason'] }[]): UnratedUsage[] {
  const totals = new Map<string, { reason: UnratedUsage['reason']; class: string; direction: UsageBucket['direction']; bucketCount: number; bytes: bigint }>();
  for (const { bucket, reason } of entries) {
    const key = JSON.stringify([reason, bucket.class, bucket.direction]);
    const total = totals.get(key) ?? { reason, class: bucket.class, direction: bucket.direction, bucketCount: 0, bytes: 0n };
    total.bucketCount += 1;
    total.bytes += bucket.bytes;
    totals.set(key, total);
  }
  return [...totals.entries()]
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([, total]) => ({ ...total, bytes: total.bytes.toString() }));
}
