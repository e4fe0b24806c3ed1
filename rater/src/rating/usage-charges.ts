import { Decimal, ZERO, apportionToTotal, minorUnitDigits, roundToMinorUnit, sumDecimals } from '@flowbill/shared/money/index';
import { bucketUnits, bytesPerUnit, measureUsage, measureUsageTotals, type UsageTotals } from '../tariff/data-units.js';
import { priceUsage } from '../tariff/price-tiers.js';
import type { FairUsagePolicy, UsageCharge } from '../tariff/tariff-schema.js';
import { localClock, packedLocalClock, type PackedClock } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { segmentAllowance } from './allowance.js';
import type { RatedLine, TierRow } from './rated-line.js';
import { segmentLabel, segmentUsage, type SegmentContext, type SegmentUsage } from './segment-context.js';
import { windowContains } from './time-windows.js';
import { UnratedTally } from './unrated-usage.js';
import { directionMatches, usageChargeMatcher, type ChargeCandidate, type UsageChargeMatcher } from './usage-matching.js';

export interface UsageRating {
  lines: RatedLine[];
  /** Buckets of the segment that no usage charge of its tariff describes, totalled (reason `no-matching-charge`). */
  unmatched: UnratedTally;
  /** Bytes of the segment's buckets in the fair-usage policy's class and direction; null without a policy. */
  fairUsage: { bytes: bigint; negative: boolean } | null;
}

/** Totals of the buckets one charge took, and how to round them per bucket when its measure says so. */
interface ChargeTotals extends UsageTotals {
  /** Set for a bucket-scope measure; `rounding` null for an exact one. */
  bucketScope: { unitBytes: bigint; rounding: 'ceil' | 'floor' | null } | null;
}

function newTotals(charge: UsageCharge): ChargeTotals {
  const { measure } = charge;
  const bucketScope =
    measure.roundingScope === 'bucket'
      ? { unitBytes: bytesPerUnit(measure.unit, measure.base), rounding: measure.rounding === 'exact' ? null : measure.rounding }
      : null;
  return { bucketCount: 0, bytes: 0n, roundedUnits: 0n, negative: false, bucketScope };
}

/** Where buckets of one class and direction can go. */
interface Route {
  trafficClass: string;
  direction: UsageBucket['direction'];
  candidates: readonly ChargeCandidate[];
  inFairUsage: boolean;
}
const MAX_ROUTES = 16;

/** Tier rows with the rounded line amount shared out by largest remainder, so the rows add up to the line. */
function tierRows(context: SegmentContext, billableUnits: Decimal, charge: UsageCharge): { rows: TierRow[]; amount: Decimal } {
  const { currency, rounding } = context.tariff;
  const tierCharges = priceUsage(billableUnits, charge.pricing);
  const exactAmounts = tierCharges.map((tier) => tier.exactAmount);
  const amount = roundToMinorUnit(sumDecimals(exactAmounts), currency, rounding);
  const shares = tierCharges.length === 0 ? [] : apportionToTotal(exactAmounts, amount, minorUnitDigits(currency));
  return { rows: tierCharges.map((tier, index) => ({ ...tier, amount: shares[index] })), amount };
}

function rateCharge(context: SegmentContext, charge: UsageCharge, totals: ChargeTotals, bucketBytes: () => bigint[]): RatedLine {
  const { tariff, period } = context;
  const { bytes, units } = measureUsageTotals(totals, charge.measure) ?? measureUsage(bucketBytes(), charge.measure);
  const isFree = charge.pricing.kind === 'free';
  const includedUnits = isFree ? ZERO : segmentAllowance(charge.includedUnits, context);
  const billableUnits = Decimal.max(ZERO, units.minus(includedUnits));
  const { rows, amount } = tierRows(context, billableUnits, charge);
  const singlePrice = isFree ? ZERO : rows.length === 1 ? rows[0].unitPrice : null;
  return {
    id: `${segmentLabel(context)}/usage/${charge.id}`,
    kind: 'usage',
    description: charge.name,
    segmentIndex: context.segmentIndex,
    tariff: { id: tariff.id, version: tariff.version },
    chargeId: charge.id,
    coverageStart: context.start,
    coverageEnd: context.end,
    billableAt: period.end,
    timing: 'arrears',
    quantity: billableUnits,
    unit: charge.measure.unit,
    unitPrice: singlePrice,
    amount,
    trafficClass: charge.class,
    direction: charge.direction,
    usage: {
      timeWindow: charge.timeWindow?.name ?? null,
      bucketCount: totals.bucketCount,
      bytes,
      unitBytes: bytesPerUnit(charge.measure.unit, charge.measure.base),
      rounding: charge.measure.rounding,
      roundingScope: charge.measure.roundingScope,
      measuredUnits: units,
      includedUnits,
      billableUnits,
    },
    tiers: rows,
  };
}

/** The charge a bucket goes to (as `findUsageCharge`), as a candidate of the matcher; undefined when none fits. */
function matchBucket(matcher: UsageChargeMatcher, bucket: UsageBucket, timeZone: string): ChargeCandidate | undefined {
  for (const candidate of matcher.candidates(bucket.class, bucket.direction)) {
    if (candidate.window === null) return candidate;
    const { minuteOfDay, isoWeekday } = localClock(bucket.start, timeZone);
    if (windowContains(candidate.window, minuteOfDay, isoWeekday)) return candidate;
  }
  return undefined;
}

/**
 * The pass over the buckets: each bucket of [from, to) is added to the totals of
 * the charge it goes to, or to the unmatched tally; the bytes the fair-usage
 * policy counts are summed on the way. (A function of its own, with no
 * closures, so the loop keeps everything in locals.)
 */
function tallyBuckets(
  buckets: readonly UsageBucket[],
  from: number,
  to: number,
  matcher: UsageChargeMatcher,
  policy: FairUsagePolicy | undefined,
  clockOf: PackedClock,
  totals: (ChargeTotals | undefined)[],
  unmatched: UnratedTally,
): { fairBytes: bigint; fairNegative: boolean } {
  const groupOf = matcher.groupOf;
  let fairBytes = 0n;
  let fairNegative = false;
  // The (class, direction) pairs met so far with their candidate charges; a subscriber has a handful.
  const routes: Route[] = [];
  let route: Route | undefined;
  let clockStart = Number.NaN;
  let clock = 0;
  for (let position = 0; position < buckets.length; position++) {
    const bucket = buckets[position];
    if (!(bucket.start >= from && bucket.start < to)) continue;
    if (route === undefined || bucket.class !== route.trafficClass || bucket.direction !== route.direction) {
      route = undefined;
      for (let r = 0; r < routes.length; r++) {
        if (bucket.class === routes[r].trafficClass && bucket.direction === routes[r].direction) {
          route = routes[r];
          break;
        }
      }
      if (route === undefined) {
        route = {
          trafficClass: bucket.class,
          direction: bucket.direction,
          candidates: matcher.candidates(bucket.class, bucket.direction),
          inFairUsage: policy !== undefined && policy.class === bucket.class && directionMatches(policy.direction, bucket.direction),
        };
        if (routes.length < MAX_ROUTES) routes.push(route);
      }
    }
    const { candidates, inFairUsage } = route;
    const bytes = bucket.bytes;
    if (inFairUsage) {
      fairBytes += bytes;
      if (bytes < 0n) fairNegative = true;
    }
    let target: ChargeCandidate | undefined;
    for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c];
      const window = candidate.window;
      if (window === null) {
        target = candidate;
        break;
      }
      if (bucket.start !== clockStart) {
        clock = clockOf(bucket.start);
        clockStart = bucket.start;
      }
      if (windowContains(window, clock >> 3, clock & 7)) {
        target = candidate;
        break;
      }
    }
    if (target === undefined) {
      unmatched.add('no-matching-charge', bucket);
      continue;
    }
    const slot = groupOf[target.index];
    const total = totals[slot] ?? (totals[slot] = newTotals(target.charge));
    total.bucketCount += 1;
    total.bytes += bytes;
    const bucketScope = total.bucketScope;
    if (bucketScope !== null) {
      if (bytes < 0n) total.negative = true;
      if (bucketScope.rounding !== null) total.roundedUnits += bucketUnits(bytes, bucketScope.unitBytes, bucketScope.rounding);
    }
  }
  return { fairBytes, fairNegative };
}

/**
 * Prices the segment's usage: each bucket goes to the first matching charge
 * (by its start time in the subscriber's zone), then each charge's buckets are
 * measured, the included allowance is taken off and the rest priced by tier.
 * A charge with no buckets yields no line.
 *
 * The buckets are read once: per bucket only the charge is found (the time of
 * day read from the zone's offset table, once per distinct start) and its
 * bytes added to that charge's bigint total; Decimal arithmetic starts with
 * the totals. The same pass totals the unmatched buckets and the bytes the
 * fair-usage policy counts.
 */
export function rateUsageCharges(context: SegmentContext, usage: SegmentUsage | readonly UsageBucket[]): UsageRating {
  const { buckets, from, to } = segmentUsage(usage);
  const { tariff } = context;
  const timeZone = context.period.timeZone;
  const matcher = usageChargeMatcher(tariff);
  const clockOf = packedLocalClock(timeZone);
  const policy = tariff.fairUsage;
  const unmatched = new UnratedTally();
  const groupOf = matcher.groupOf;
  const totals: (ChargeTotals | undefined)[] = new Array<ChargeTotals | undefined>(tariff.usageCharges.length);

  const { fairBytes, fairNegative } = tallyBuckets(buckets, from, to, matcher, policy, clockOf, totals, unmatched);

  // The byte counts one by one, only when the totals cannot stand in for them (see measureUsageTotals).
  const bucketBytesOf = (slot: number) => () => {
    const list: bigint[] = [];
    for (const bucket of buckets) {
      if (!(bucket.start >= from && bucket.start < to)) continue;
      const candidate = matchBucket(matcher, bucket, timeZone);
      if (candidate !== undefined && groupOf[candidate.index] === slot) list.push(bucket.bytes);
    }
    return list;
  };
  // Tariff order, not bucket order, so the same usage always produces the same line order.
  const lines: RatedLine[] = [];
  tariff.usageCharges.forEach((charge, index) => {
    const slot = groupOf[index];
    const chargeTotals = totals[slot];
    if (chargeTotals === undefined) return;
    // With two charges of one id (an invalid tariff) the totals mix two measures: measure from the bytes.
    const usable = matcher.hasDuplicateIds ? { ...chargeTotals, negative: true } : chargeTotals;
    lines.push(rateCharge(context, charge, usable, bucketBytesOf(slot)));
  });
  return { lines, unmatched, fairUsage: policy === undefined ? null : { bytes: fairBytes, negative: fairNegative } };
}
