import type { DirectionSelector, Tariff, UsageCharge } from '../tariff/tariff-schema.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { isInTimeWindow } from './time-windows.js';

export function directionMatches(selector: DirectionSelector, direction: UsageBucket['direction']): boolean {
  return selector === 'both' || selector === direction;
}

/** The first of the tariff's usage charges whose class, direction and time window fit the bucket, if any. */
export function findUsageCharge(tariff: Tariff, bucket: UsageBucket, timeZone: string): UsageCharge | undefined {
  return tariff.usageCharges.find(
    (charge) =>
      charge.class === bucket.class &&
      directionMatches(charge.direction, bucket.direction) &&
      (charge.timeWindow === undefined || isInTimeWindow(bucket.start, charge.timeWindow, timeZone)),
  );
}
