import type { DirectionSelector, Tariff, UsageCharge } from '../tariff/tariff-schema.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { compileTimeWindow, isInTimeWindow, type CompiledTimeWindow } from './time-windows.js';

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

/** A usage charge that a bucket of some class and direction could go to, in tariff order. */
export interface ChargeCandidate {
  /** Position in `tariff.usageCharges`. */
  index: number;
  charge: UsageCharge;
  /** Null for a charge without a time window: it takes every bucket that reaches it. */
  window: CompiledTimeWindow | null;
}

/**
 * `findUsageCharge` split in two: which charges a class and direction can
 * match at all is worked out once per tariff, so per bucket only the time
 * windows of those candidates remain to be tested (and none when the first
 * candidate has no window). The candidates stop at the first charge without a
 * window, since `find` never looks past it.
 */
export class UsageChargeMatcher {
  private readonly byClass = new Map<string, Map<string, readonly ChargeCandidate[]>>();
  /**
   * Per charge, the position of the first charge with its id: buckets are grouped by charge id,
   * so two charges sharing an id (which a valid tariff never has) share one group.
   */
  readonly groupOf: readonly number[];
  readonly hasDuplicateIds: boolean;

  constructor(private readonly charges: readonly UsageCharge[]) {
    this.groupOf = charges.map((charge) => charges.findIndex((other) => other.id === charge.id));
    this.hasDuplicateIds = this.groupOf.some((first, index) => first !== index);
  }

  candidates(trafficClass: string, direction: UsageBucket['direction']): readonly ChargeCandidate[] {
    let byDirection = this.byClass.get(trafficClass);
    if (byDirection === undefined) {
      byDirection = new Map();
      this.byClass.set(trafficClass, byDirection);
    }
    let list = byDirection.get(direction);
    if (list === undefined) {
      const found: ChargeCandidate[] = [];
      for (let index = 0; index < this.charges.length; index++) {
        const charge = this.charges[index];
        if (charge.class !== trafficClass || !directionMatches(charge.direction, direction)) continue;
        found.push({ index, charge, window: charge.timeWindow === undefined ? null : compileTimeWindow(charge.timeWindow) });
        if (charge.timeWindow === undefined) break;
      }
      list = found;
      byDirection.set(direction, list);
    }
    return list;
  }
}

const matchers = new WeakMap<readonly UsageCharge[], UsageChargeMatcher>();

/** The matcher of a tariff's usage charges (tariffs are immutable once parsed, so it is built once). */
export function usageChargeMatcher(tariff: Tariff): UsageChargeMatcher {
  let matcher = matchers.get(tariff.usageCharges);
  if (matcher === undefined) {
    matcher = new UsageChargeMatcher(tariff.usageCharges);
    matchers.set(tariff.usageCharges, matcher);
  }
  return matcher;
}
