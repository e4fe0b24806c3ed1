/**
 * THE ORACLE: the rating core as it was before the performance work (November
 * 2026), kept verbatim in one file and used only by tests. It reads every
 * bucket's wall clock through luxon, builds a Decimal per bucket, filters the
 * usage once per segment and formats every instant with luxon: slow
 * (~15 ms per subscriber-month of hourly usage) and obviously right.
 * `rating-equivalence.test.ts` checks that the optimised `ratePeriod` returns
 * exactly what this returns.
 *
 * Only modules that the optimisation did not touch are imported from src
 * (schemas and types, the billing period bounds, the tariff timeline and
 * catalogue, discount eligibility, the shared money library); everything on
 * the rating path that changed, and the time helpers the unchanged modules
 * would otherwise reach (`spanLength`, `describePeriod`), is copied here.
 * Do not "fix" or speed up this file: it must stay the straightforward
 * computation the fast one is compared with.
 */
/* eslint-disable */
import { DateTime } from 'luxon';
import { Decimal, ZERO, allocateByWeights, apportionToTotal, minorUnitDigits, roundToMinorUnit, sumDecimals, toDecimal, type RoundingMode } from '@flowbill/shared/money/index';
import { billingPeriodForKey, type BillingPeriod } from '../../src/period/billing-period.js';
import type { ProratedAmount, ProrationBasis } from '../../src/period/proration.js';
import type { LineItem } from '../../src/rating/line-item.js';
import type { LineKind, RatedLine, TaxedLine, TierRow } from '../../src/rating/rated-line.js';
import { activeDiscount, type ActiveDiscount } from '../../src/rating/discount-eligibility.js';
import type { SegmentContext } from '../../src/rating/segment-context.js';
import type { TariffRef } from '../../src/schema/primitives.js';
import type { Subscription } from '../../src/subscription/subscription-schema.js';
import { resolveTariffTimeline } from '../../src/subscription/tariff-timeline.js';
import type { TierCharge } from '../../src/tariff/price-tiers.js';
import { TariffCatalogue } from '../../src/tariff/tariff-catalogue.js';
import {
  DATA_UNITS,
  type DataUnit,
  type DirectionSelector,
  type PriceTier,
  type RecurringFee,
  type SpeedProfile,
  type Tariff,
  type TaxRule,
  type TimeWindow,
  type UsageCharge,
  type UsageMeasure,
  type UsagePricing,
} from '../../src/tariff/tariff-schema.js';
import type { UsageBucket } from '../../src/usage/usage-schema.js';

type EpochMillis = number;

function segmentLabel(context: SegmentContext): string {
  return `s${context.segmentIndex}`;
}

// ---- luxon wall clock (was time/zoned-time.ts) ----

function zonedDateTime(instant: EpochMillis, timeZone: string): DateTime {
  const dateTime = DateTime.fromMillis(instant, { zone: timeZone });
  if (!dateTime.isValid) throw new RangeError(`Cannot place ${instant} in time zone "${timeZone}": ${dateTime.invalidExplanation ?? dateTime.invalidReason}`);
  return dateTime;
}

/** ISO-8601 with the zone's offset at that instant, e.g. 2026-03-01T00:00:00.000+03:00. */
function formatInstant(instant: EpochMillis, timeZone: string): string {
  return zonedDateTime(instant, timeZone).toISO({ suppressMilliseconds: false }) as string;
}

/**
 * A day number that grows by exactly one per local calendar day, whatever the
 * day's length in hours (23 or 25 around DST changes). Differences of these
 * numbers count calendar days.
 */
function localDayNumber(instant: EpochMillis, timeZone: string): number {
  const local = zonedDateTime(instant, timeZone);
  return Math.round(DateTime.utc(local.year, local.month, local.day).toMillis() / 86_400_000);
}

/** Minutes since local midnight (0–1439) and ISO weekday (1 = Monday … 7 = Sunday). */
function localClock(instant: EpochMillis, timeZone: string): { minuteOfDay: number; isoWeekday: number } {
  const local = zonedDateTime(instant, timeZone);
  return { minuteOfDay: local.hour * 60 + local.minute, isoWeekday: local.weekday };
}


// ---- proration (was period/proration.ts) ----

/**
 * Length of [from, to) in whole local calendar days or whole seconds.
 * By day, an interval is measured from the calendar day containing `from` to
 * the one containing `to`: the day on which a change happens belongs to the
 * state after the change (an upgrade on the 15th bills the 15th at the new
 * plan; a termination on the 20th does not bill the 20th).
 */
function spanLength(from: EpochMillis, to: EpochMillis, basis: ProrationBasis, timeZone: string): number {
  if (basis === 'day') return localDayNumber(to, timeZone) - localDayNumber(from, timeZone);
  return Math.floor(to / 1000) - Math.floor(from / 1000);
}

/**
 * The part of `fullAmount` that covers [from, period end), rounded to the minor
 * unit. Used for advance charges (billed when the service starts) and credits
 * (refunded when it stops early).
 */
function remainingPeriodAmount(
  fullAmount: Decimal,
  from: EpochMillis,
  period: BillingPeriod,
  basis: ProrationBasis,
  currency: string,
  mode: RoundingMode,
): ProratedAmount {
  const coveredUnits = spanLength(from, period.end, basis, period.timeZone);
  const periodUnits = spanLength(period.start, period.end, basis, period.timeZone);
  const exact = fullAmount.times(coveredUnits).dividedBy(periodUnits);
  return { amount: roundToMinorUnit(exact, currency, mode), coveredUnits, periodUnits };
}

/**
 * The part of `fullAmount` that covers [from, to) inside the period, defined as
 * (amount remaining from `from`) − (amount remaining from `to`). Because every
 * part is a difference of the same rounded "remaining" values, the parts of
 * any split of the period telescope to exactly `fullAmount`: a plan change or
 * a daily spread can never gain or lose a kopeck.
 */
function proratedAmount(
  fullAmount: Decimal,
  from: EpochMillis,
  to: EpochMillis,
  period: BillingPeriod,
  basis: ProrationBasis,
  currency: string,
  mode: RoundingMode,
): ProratedAmount {
  const head = remainingPeriodAmount(fullAmount, from, period, basis, currency, mode);
  const tail = remainingPeriodAmount(fullAmount, to, period, basis, currency, mode);
  return { amount: head.amount.minus(tail.amount), coveredUnits: head.coveredUnits - tail.coveredUnits, periodUnits: head.periodUnits };
}

/** The covered share of the period as a decimal; informative, the amount is computed by `proratedAmount`. */
function coveredFraction(coveredUnits: number, periodUnits: number): Decimal {
  return toDecimal(coveredUnits).dividedBy(toDecimal(periodUnits));
}


// ---- period description (was period/billing-period.ts) ----

function describePeriod(period: BillingPeriod): { key: string; start: string; end: string; timeZone: string } {
  return { key: period.key, start: formatInstant(period.start, period.timeZone), end: formatInstant(period.end, period.timeZone), timeZone: period.timeZone };
}


// ---- data units (was tariff/data-units.ts) ----

/** Bytes in one unit: 1 GB is 10^9 bytes in the decimal base and 2^30 in the binary base. */
function bytesPerUnit(unit: DataUnit, base: UsageMeasure['base']): bigint {
  const exponent = BigInt(DATA_UNITS.indexOf(unit));
  return base === 'decimal' ? 1000n ** exponent : 1024n ** exponent;
}

function applyUsageRounding(units: Decimal, rounding: UsageMeasure['rounding']): Decimal {
  switch (rounding) {
    case 'exact':
      return units;
    case 'ceil':
      return units.ceil();
    case 'floor':
      return units.floor();
  }
}

/** Bytes expressed in the measure's unit, rounded as the tariff states. Exact: 2^-30 has a finite decimal expansion. */
function bytesToUnits(bytes: bigint, measure: Pick<UsageMeasure, 'unit' | 'base' | 'rounding'>): Decimal {
  const units = toDecimal(bytes).dividedBy(toDecimal(bytesPerUnit(measure.unit, measure.base)));
  return applyUsageRounding(units, measure.rounding);
}

/**
 * Units billed for a set of bucket byte counts: either the period total is
 * rounded once, or each bucket is rounded before summing ("per started MB of
 * each session"), as the measure's `roundingScope` says.
 */
function measureUsage(bucketBytes: readonly bigint[], measure: UsageMeasure): { bytes: bigint; units: Decimal } {
  const bytes = bucketBytes.reduce((total, value) => total + value, 0n);
  const units =
    measure.roundingScope === 'period'
      ? bytesToUnits(bytes, measure)
      : sumDecimals(bucketBytes.map((value) => bytesToUnits(value, measure)));
  return { bytes, units };
}


// ---- price tiers (was tariff/price-tiers.ts) ----

function tierBounds(tiers: readonly PriceTier[]): { from: Decimal; to: Decimal | null; unitPrice: Decimal }[] {
  return tiers.map((tier, index) => ({
    from: index === 0 ? ZERO : toDecimal(tiers[index - 1].upTo as string),
    to: tier.upTo === null ? null : toDecimal(tier.upTo),
    unitPrice: toDecimal(tier.unitPrice),
  }));
}

/** Graduated: every unit is priced at the tier it falls in, like income-tax brackets. */
function priceGraduated(quantity: Decimal, tiers: readonly PriceTier[]): TierCharge[] {
  const charges: TierCharge[] = [];
  tierBounds(tiers).forEach((tier, tierIndex) => {
    const ceiling = tier.to === null ? quantity : Decimal.min(quantity, tier.to);
    const units = ceiling.minus(tier.from);
    if (units.greaterThan(0)) {
      charges.push({ tierIndex, fromUnits: tier.from, toUnits: tier.to, units, unitPrice: tier.unitPrice, exactAmount: units.times(tier.unitPrice) });
    }
  });
  return charges;
}

/** Volume: all units are priced at the single tier the total falls in (a total equal to a bound belongs to the lower tier). */
function priceVolume(quantity: Decimal, tiers: readonly PriceTier[]): TierCharge[] {
  if (!quantity.greaterThan(0)) return [];
  const bounds = tierBounds(tiers);
  const tierIndex = bounds.findIndex((tier) => tier.to === null || quantity.lessThanOrEqualTo(tier.to));
  const tier = bounds[tierIndex];
  return [{ tierIndex, fromUnits: tier.from, toUnits: tier.to, units: quantity, unitPrice: tier.unitPrice, exactAmount: quantity.times(tier.unitPrice) }];
}

/** Tier charges for a billable quantity; free pricing yields none. */
function priceUsage(quantity: Decimal, pricing: UsagePricing): TierCharge[] {
  switch (pricing.kind) {
    case 'free':
      return [];
    case 'graduated':
      return priceGraduated(quantity, pricing.tiers);
    case 'volume':
      return priceVolume(quantity, pricing.tiers);
  }
}


// ---- allowance (was rating/allowance.ts) ----

/**
 * A per-period allowance (included units, fair-usage threshold) for the
 * segment: shrunk in proportion to the part of the period the segment covers
 * when the tariff prorates allowances, and then rounded up to the precision
 * the tariff wrote it with (10 GB stays in whole GB), in the subscriber's
 * favour and never above the full allowance.
 */
function segmentAllowance(fullAllowance: string, context: SegmentContext): Decimal {
  const full = toDecimal(fullAllowance);
  if (context.tariff.allowanceProration === 'full') return full;
  const basis = context.tariff.proration;
  const covered = spanLength(context.start, context.end, basis, context.period.timeZone);
  const whole = spanLength(context.period.start, context.period.end, basis, context.period.timeZone);
  if (covered === whole) return full;
  return full.times(covered).dividedBy(whole).toDecimalPlaces(full.decimalPlaces(), Decimal.ROUND_UP);
}


// ---- time-windows (was rating/time-windows.ts) ----

function minutesOf(clockTime: string): number {
  const [hours, minutes] = clockTime.split(':').map(Number);
  return hours * 60 + minutes;
}

/**
 * Whether an instant falls in a time-of-day window, read on the wall clock of
 * the subscriber's zone. [from, to) is half-open; when `to` is earlier than
 * `from` the window wraps past midnight (23:00–07:00). Weekdays are those of
 * the instant itself, so 02:00 on Saturday is a Saturday.
 */
function isInTimeWindow(instant: EpochMillis, window: TimeWindow, timeZone: string): boolean {
  const { minuteOfDay, isoWeekday } = localClock(instant, timeZone);
  if (window.daysOfWeek && !window.daysOfWeek.includes(isoWeekday)) return false;
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  return from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
}


// ---- usage-matching (was rating/usage-matching.ts) ----

function directionMatches(selector: DirectionSelector, direction: UsageBucket['direction']): boolean {
  return selector === 'both' || selector === direction;
}

/** The first of the tariff's usage charges whose class, direction and time window fit the bucket, if any. */
function findUsageCharge(tariff: Tariff, bucket: UsageBucket, timeZone: string): UsageCharge | undefined {
  return tariff.usageCharges.find(
    (charge) =>
      charge.class === bucket.class &&
      directionMatches(charge.direction, bucket.direction) &&
      (charge.timeWindow === undefined || isInTimeWindow(bucket.start, charge.timeWindow, timeZone)),
  );
}


// ---- usage-charges (was rating/usage-charges.ts) ----

interface UsageRating {
  lines: RatedLine[];
  /** Buckets of the segment that no usage charge of its tariff describes. */
  unmatched: UsageBucket[];
}

/** Tier rows with the rounded line amount shared out by largest remainder, so the rows add up to the line. */
function tierRows(context: SegmentContext, billableUnits: Decimal, charge: UsageCharge): { rows: TierRow[]; amount: Decimal } {
  const { currency, rounding } = context.tariff;
  const tierCharges = priceUsage(billableUnits, charge.pricing);
  const exactAmounts = tierCharges.map((tier) => tier.exactAmount);
  const amount = roundToMinorUnit(sumDecimals(exactAmounts), currency, rounding);
  const shares = tierCharges.length === 0 ? [] : apportionToTotal(exactAmounts, amount, minorUnitDigits(currency));
  return { rows: tierCharges.map((tier, index) => ({ ...tier, amount: shares[index] })), amount };
}

function rateCharge(context: SegmentContext, charge: UsageCharge, buckets: readonly UsageBucket[]): RatedLine {
  const { tariff, period } = context;
  const { bytes, units } = measureUsage(
    buckets.map((bucket) => bucket.bytes),
    charge.measure,
  );
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
      bucketCount: buckets.length,
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

/**
 * Prices the segment's usage: each bucket goes to the first matching charge
 * (by its start time in the subscriber's zone), then each charge's buckets are
 * measured, the included allowance is taken off and the rest priced by tier.
 * A charge with no buckets yields no line.
 */
function rateUsageCharges(context: SegmentContext, buckets: readonly UsageBucket[]): UsageRating {
  const bucketsByCharge = new Map<string, UsageBucket[]>();
  const unmatched: UsageBucket[] = [];
  for (const bucket of buckets) {
    const charge = findUsageCharge(context.tariff, bucket, context.period.timeZone);
    if (!charge) {
      unmatched.push(bucket);
      continue;
    }
    const matched = bucketsByCharge.get(charge.id) ?? [];
    matched.push(bucket);
    bucketsByCharge.set(charge.id, matched);
  }
  // Tariff order, not bucket order, so the same usage always produces the same line order.
  const lines = context.tariff.usageCharges
    .filter((charge) => bucketsByCharge.has(charge.id))
    .map((charge) => rateCharge(context, charge, bucketsByCharge.get(charge.id) as UsageBucket[]));
  return { lines, unmatched };
}


// ---- fair-usage (was rating/fair-usage.ts) ----

/** Emitted when an unlimited plan's usage in a period first exceeds its fair-usage threshold. */
interface FairUsageEvent {
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
function detectFairUsageCrossing(context: SegmentContext, buckets: readonly UsageBucket[]): FairUsageEvent | null {
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


// ---- unrated-usage (was rating/unrated-usage.ts) ----

/** Usage the rater saw but could not price, totalled per reason, class and direction. */
interface UnratedUsage {
  /** `outside-subscription`: no tariff was in force at the bucket's start; `no-matching-charge`: the tariff has no charge for it. */
  reason: 'outside-subscription' | 'no-matching-charge';
  class: string;
  direction: UsageBucket['direction'];
  bucketCount: number;
  bytes: string;
}

function summarizeUnratedUsage(entries: readonly { bucket: UsageBucket; reason: UnratedUsage['reason'] }[]): UnratedUsage[] {
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


// ---- recurring-charges (was rating/recurring-charges.ts) ----

/** Shown quantities are the covered share of the period to 6 places; amounts never derive from them. */
const QUANTITY_PLACES = 6;

function quantityOf(proration: Pick<ProratedAmount, 'coveredUnits' | 'periodUnits'>, sign: 1 | -1): Decimal {
  return coveredFraction(proration.coveredUnits, proration.periodUnits).times(sign).toDecimalPlaces(QUANTITY_PLACES, Decimal.ROUND_HALF_EVEN);
}

function baseLine(context: SegmentContext, fee: RecurringFee) {
  return {
    segmentIndex: context.segmentIndex,
    tariff: { id: context.tariff.id, version: context.tariff.version },
    chargeId: fee.id,
    timing: fee.charge,
    unit: 'period',
    unitPrice: toDecimal(fee.price),
  };
}

function prorationDetail(proration: ProratedAmount, basis: 'day' | 'second') {
  return proration.coveredUnits === proration.periodUnits
    ? {}
    : { proration: { basis, coveredUnits: proration.coveredUnits, periodUnits: proration.periodUnits } };
}

/** One line for the whole segment, billed at period end for the time actually served. */
function arrearsLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const part = proratedAmount(toDecimal(fee.price), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  return [
    {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}`,
      kind: 'recurring',
      description: fee.name,
      coverageStart: context.start,
      coverageEnd: context.end,
      billableAt: period.end,
      quantity: quantityOf(part, 1),
      amount: part.amount,
      ...prorationDetail(part, tariff.proration),
    },
  ];
}

/**
 * Billed when the segment starts, for the rest of the period as then known;
 * if the segment ends early (plan change, termination) the unused rest is
 * credited at that moment. Charge minus credit equals the arrears amount for
 * the same segment to the kopeck.
 */
function advanceLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const price = toDecimal(fee.price);
  const charged = remainingPeriodAmount(price, context.start, period, tariff.proration, tariff.currency, tariff.rounding);
  const lines: RatedLine[] = [
    {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}`,
      kind: 'recurring',
      description: fee.name,
      coverageStart: context.start,
      coverageEnd: period.end,
      billableAt: context.start,
      quantity: quantityOf(charged, 1),
      amount: charged.amount,
      ...prorationDetail(charged, tariff.proration),
    },
  ];
  if (context.end < period.end) {
    const credited = remainingPeriodAmount(price, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
    lines.push({
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring-credit/${fee.id}`,
      kind: 'recurring-credit',
      description: `${fee.name}: credit for the unused rest of the period`,
      coverageStart: context.end,
      coverageEnd: period.end,
      billableAt: context.end,
      quantity: quantityOf(credited, -1),
      amount: credited.amount.negated(),
      proration: { basis: tariff.proration, coveredUnits: credited.coveredUnits, periodUnits: credited.periodUnits },
    });
  }
  return lines;
}

function localDayStarts(from: EpochMillis, to: EpochMillis, timeZone: string): EpochMillis[] {
  const starts: EpochMillis[] = [];
  let day = DateTime.fromMillis(from, { zone: timeZone }).startOf('day');
  while (day.toMillis() < to) {
    starts.push(day.toMillis());
    day = day.plus({ days: 1 }).startOf('day');
  }
  return starts;
}

/**
 * The period price spread over the period's calendar days, one line per day of
 * service (a daily debit). Always by calendar day, whatever the tariff's
 * proration basis, so every day of a month costs the same up to a kopeck.
 */
function dailyLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const price = toDecimal(fee.price);
  const firstDayStart = DateTime.fromMillis(context.start, { zone: period.timeZone }).startOf('day').toMillis();
  const lastDayEnd = context.end === period.end ? period.end : DateTime.fromMillis(context.end, { zone: period.timeZone }).startOf('day').toMillis();
  return localDayStarts(firstDayStart, lastDayEnd, period.timeZone).map((dayStart) => {
    const dayEnd = DateTime.fromMillis(dayStart, { zone: period.timeZone }).plus({ days: 1 }).startOf('day').toMillis();
    const part = proratedAmount(price, dayStart, dayEnd, period, 'day', tariff.currency, tariff.rounding);
    const date = DateTime.fromMillis(dayStart, { zone: period.timeZone }).toISODate();
    return {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}/${date}`,
      kind: 'recurring',
      description: `${fee.name} (${date})`,
      coverageStart: dayStart,
      coverageEnd: dayEnd,
      billableAt: fee.charge === 'advance' ? dayStart : dayEnd,
      quantity: quantityOf(part, 1),
      amount: part.amount,
      proration: { basis: 'day', coveredUnits: part.coveredUnits, periodUnits: part.periodUnits },
    } satisfies RatedLine;
  });
}

/** Lines for every recurring fee of the segment's tariff. */
function rateRecurringFees(context: SegmentContext): RatedLine[] {
  const { tariff, period } = context;
  return tariff.recurringFees.flatMap((fee) => {
    if (fee.spread === 'daily') return dailyLines(context, fee);
    // By day, a segment that starts and ends on the same calendar day covers no day at all.
    if (spanLength(context.start, context.end, tariff.proration, period.timeZone) === 0) return [];
    return fee.charge === 'advance' ? advanceLines(context, fee) : arrearsLines(context, fee);
  });
}


// ---- discounts (was rating/discounts.ts) ----

type DiscountScope = 'recurring' | 'usage';

const SCOPE_OF_KIND: Partial<Record<LineKind, DiscountScope>> = {
  recurring: 'recurring',
  'recurring-credit': 'recurring',
  usage: 'usage',
};

/** What is still left to discount in each scope, after the discounts applied so far. */
type Remaining = Record<DiscountScope, Decimal>;

function discountAmount(context: SegmentContext, active: ActiveDiscount, base: Decimal): Decimal {
  const { tariff, period } = context;
  const { discount } = active;
  if (discount.kind === 'percent') {
    return roundToMinorUnit(base.times(toDecimal(discount.percent)).dividedBy(100), tariff.currency, tariff.rounding);
  }
  // A fixed amount per period shrinks with a partial period, like a fee.
  const prorated = proratedAmount(toDecimal(discount.amount), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  return Decimal.min(prorated.amount, base);
}

/**
 * Discount lines for one segment, applied in tariff order. Each takes from
 * what earlier discounts left in its scope (recurring fees, usage or both), so
 * several discounts compound and can never take a scope below zero.
 */
function rateDiscounts(context: SegmentContext, chargeLines: readonly RatedLine[]): RatedLine[] {
  const remaining: Remaining = { recurring: ZERO, usage: ZERO };
  const firstDueInScope: Partial<Record<DiscountScope, number>> = {};
  for (const line of chargeLines) {
    const scope = SCOPE_OF_KIND[line.kind];
    if (!scope) continue;
    remaining[scope] = remaining[scope].plus(line.amount);
    firstDueInScope[scope] = Math.min(firstDueInScope[scope] ?? line.billableAt, line.billableAt);
  }

  const lines: RatedLine[] = [];
  for (const candidate of context.tariff.discounts) {
    const active = activeDiscount(candidate, context.subscription, context.period.key);
    if (!active) continue;
    const scopes = candidate.appliesTo.filter((scope) => remaining[scope].greaterThan(0));
    const base = sumDecimals(scopes.map((scope) => remaining[scope]));
    if (!base.greaterThan(0)) continue;
    const amount = discountAmount(context, active, base);
    if (!amount.greaterThan(0)) continue;
    // Split the discount between its scopes so the next discount sees what is really left in each.
    const shares = allocateByWeights(amount, scopes.map((scope) => remaining[scope]), minorUnitDigits(context.tariff.currency));
    scopes.forEach((scope, index) => (remaining[scope] = remaining[scope].minus(shares[index])));
    // Due with the earliest line it reduces, so an advance invoice already shows the promotion.
    const billableAt = Math.min(...scopes.map((scope) => firstDueInScope[scope] as number));
    lines.push({
      id: `${segmentLabel(context)}/discount/${candidate.id}`,
      kind: 'discount',
      description: candidate.name,
      segmentIndex: context.segmentIndex,
      tariff: { id: context.tariff.id, version: context.tariff.version },
      chargeId: candidate.id,
      coverageStart: context.start,
      coverageEnd: context.end,
      billableAt,
      timing: billableAt < context.period.end ? 'advance' : 'arrears',
      quantity: new Decimal(1),
      unit: 'discount',
      unitPrice: null,
      amount: amount.negated(),
      discount: {
        kind: candidate.kind,
        percent: candidate.kind === 'percent' ? toDecimal(candidate.percent) : null,
        fixedAmount: candidate.kind === 'fixed' ? toDecimal(candidate.amount) : null,
        appliesTo: candidate.appliesTo,
        base,
        promoCode: candidate.promoCode ?? null,
        periodNumber: active.periodNumber,
        periods: candidate.periods ?? null,
      },
    });
  }
  return lines;
}


// ---- minimum-charge (was rating/minimum-charge.ts) ----

/**
 * A top-up line when the segment's lines (after discounts, before tax) come
 * to less than the tariff's minimum charge. The minimum is per period and is
 * prorated like a fee when the segment covers only part of the period.
 */
function rateMinimumCharge(context: SegmentContext, segmentLines: readonly RatedLine[]): RatedLine[] {
  const { tariff, period } = context;
  if (!tariff.minimumCharge) return [];
  const minimum = proratedAmount(toDecimal(tariff.minimumCharge.amount), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  const charged = sumDecimals(segmentLines.map((line) => line.amount));
  if (minimum.amount.isZero() || !charged.lessThan(minimum.amount)) return [];
  return [
    {
      id: `${segmentLabel(context)}/minimum-charge`,
      kind: 'minimum-charge',
      description: `Top-up to the minimum charge of ${minimum.amount.toFixed()} ${tariff.currency}`,
      segmentIndex: context.segmentIndex,
      tariff: { id: tariff.id, version: tariff.version },
      chargeId: 'minimum-charge',
      coverageStart: context.start,
      coverageEnd: context.end,
      billableAt: period.end,
      timing: 'arrears',
      quantity: toDecimal(1),
      unit: 'top-up',
      unitPrice: null,
      amount: minimum.amount.minus(charged),
      ...(minimum.coveredUnits === minimum.periodUnits
        ? {}
        : { proration: { basis: tariff.proration, coveredUnits: minimum.coveredUnits, periodUnits: minimum.periodUnits } }),
    },
  ];
}


// ---- tax (was rating/tax.ts) ----

interface TaxSummary {
  rule: TaxRule;
  /** Sum of the group's line amounts as priced (gross for inclusive, net for exclusive rules). */
  pricedAmount: Decimal;
  net: Decimal;
  tax: Decimal;
  gross: Decimal;
}

function taxRuleKey(rule: TaxRule): string {
  return JSON.stringify([rule.name, toDecimal(rule.ratePercent).toFixed(), rule.inclusion, rule.rounding]);
}

/** Exact tax contained in (inclusive) or due on top of (exclusive) an amount. */
function exactTax(amount: Decimal, rule: TaxRule): Decimal {
  const rate = toDecimal(rule.ratePercent);
  return rule.inclusion === 'inclusive' ? amount.times(rate).dividedBy(rate.plus(100)) : amount.times(rate).dividedBy(100);
}

function withTax(line: RatedLine, rule: TaxRule | null, tax: Decimal): TaxedLine {
  const inclusive = rule?.inclusion !== 'exclusive';
  return {
    ...line,
    taxRule: rule,
    tax,
    net: inclusive ? line.amount.minus(tax) : line.amount,
    gross: inclusive ? line.amount : line.amount.plus(tax),
  };
}

/**
 * Tax is computed once per tax rule on the total of the lines it covers, then
 * shared out to those lines by largest remainder of their exact shares. The
 * invoice's tax is therefore the correctly rounded tax of its total, and the
 * lines' taxes, nets and grosses add up to the invoice's to the kopeck.
 * Lines whose tariff has no tax rule carry zero tax.
 */
function applyTax(lines: readonly RatedLine[], tariffOfLine: (line: RatedLine) => Tariff): { lines: TaxedLine[]; summaries: TaxSummary[] } {
  const groups = new Map<string, { rule: TaxRule; indexes: number[] }>();
  const taxed: TaxedLine[] = lines.map((line) => withTax(line, null, ZERO));
  lines.forEach((line, index) => {
    const rule = tariffOfLine(line).tax;
    if (!rule) return;
    const key = taxRuleKey(rule);
    const group = groups.get(key) ?? { rule, indexes: [] };
    group.indexes.push(index);
    groups.set(key, group);
  });

  const currency = lines.length > 0 ? tariffOfLine(lines[0]).currency : 'RUB';
  const summaries: TaxSummary[] = [];
  for (const { rule, indexes } of groups.values()) {
    const amounts = indexes.map((index) => lines[index].amount);
    const pricedAmount = sumDecimals(amounts);
    const totalTax = roundToMinorUnit(exactTax(pricedAmount, rule), currency, rule.rounding);
    const lineTaxes = apportionToTotal(
      amounts.map((amount) => exactTax(amount, rule)),
      totalTax,
      minorUnitDigits(currency),
    );
    indexes.forEach((lineIndex, position) => (taxed[lineIndex] = withTax(lines[lineIndex], rule, lineTaxes[position])));
    summaries.push({
      rule,
      pricedAmount,
      tax: totalTax,
      net: rule.inclusion === 'inclusive' ? pricedAmount.minus(totalTax) : pricedAmount,
      gross: rule.inclusion === 'inclusive' ? pricedAmount : pricedAmount.plus(totalTax),
    });
  }
  return { lines: taxed, summaries };
}


// ---- line items (was rating/line-item.ts) ----

function formatAmount(amount: Decimal, currency: string): string {
  return amount.toFixed(minorUnitDigits(currency));
}

const plain = (value: Decimal): string => value.toFixed();

function serializeLine(line: TaxedLine, currency: string, timeZone: string): LineItem {
  const money = (value: Decimal) => formatAmount(value, currency);
  return {
    id: line.id,
    kind: line.kind,
    description: line.description,
    tariff: line.tariff,
    chargeId: line.chargeId,
    covers: { start: formatInstant(line.coverageStart, timeZone), end: formatInstant(line.coverageEnd, timeZone) },
    billableAt: formatInstant(line.billableAt, timeZone),
    timing: line.timing,
    quantity: plain(line.quantity),
    unit: line.unit,
    unitPrice: line.unitPrice === null ? null : plain(line.unitPrice),
    amount: money(line.amount),
    tax: money(line.tax),
    net: money(line.net),
    gross: money(line.gross),
    taxRule: line.taxRule === null ? null : { name: line.taxRule.name, ratePercent: line.taxRule.ratePercent, inclusion: line.taxRule.inclusion },
    ...(line.trafficClass === undefined ? {} : { trafficClass: line.trafficClass }),
    ...(line.direction === undefined ? {} : { direction: line.direction }),
    ...(line.proration === undefined ? {} : { proration: { ...line.proration } }),
    ...(line.usage === undefined
      ? {}
      : {
          usage: {
            timeWindow: line.usage.timeWindow,
            bucketCount: line.usage.bucketCount,
            bytes: line.usage.bytes.toString(),
            unitBytes: line.usage.unitBytes.toString(),
            rounding: line.usage.rounding,
            roundingScope: line.usage.roundingScope,
            measuredUnits: plain(line.usage.measuredUnits),
            includedUnits: plain(line.usage.includedUnits),
            billableUnits: plain(line.usage.billableUnits),
          },
        }),
    ...(line.tiers === undefined
      ? {}
      : {
          tiers: line.tiers.map((tier) => ({
            tierIndex: tier.tierIndex,
            fromUnits: plain(tier.fromUnits),
            toUnits: tier.toUnits === null ? null : plain(tier.toUnits),
            units: plain(tier.units),
            unitPrice: plain(tier.unitPrice),
            exactAmount: plain(tier.exactAmount),
            amount: money(tier.amount),
          })),
        }),
    ...(line.discount === undefined
      ? {}
      : {
          discount: {
            kind: line.discount.kind,
            percent: line.discount.percent === null ? null : plain(line.discount.percent),
            fixedAmount: line.discount.fixedAmount === null ? null : money(line.discount.fixedAmount),
            appliesTo: [...line.discount.appliesTo],
            base: money(line.discount.base),
            promoCode: line.discount.promoCode,
            periodNumber: line.discount.periodNumber,
            periods: line.discount.periods,
          },
        }),
  };
}


// ---- rate period (was rating/rate-period.ts) ----

interface RatingRequest {
  /** Every tariff version the subscription refers to (extra ones are ignored). */
  tariffs: readonly Tariff[];
  subscription: Subscription;
  /** Usage buckets of this subscriber; buckets starting outside the period are ignored. */
  usage: readonly UsageBucket[];
  /** "YYYY-MM": the billing period starting in that month under the subscription's billing cycle. */
  period: string;
}

interface RatingResult {
  subscriberId: string;
  currency: string;
  period: { key: string; start: string; end: string; timeZone: string };
  /** The tariff versions in force during the period, in time order. */
  segments: { tariff: TariffRef; tariffName: string; start: string; end: string; speed: SpeedProfile | null }[];
  lines: LineItem[];
  taxes: { name: string; ratePercent: string; inclusion: 'inclusive' | 'exclusive'; net: string; tax: string; gross: string }[];
  /** Always equal to the sums of the lines' net, tax and gross. */
  totals: { net: string; tax: string; gross: string };
  events: FairUsageEvent[];
  /** Usage the rater could not price: shown, never silently dropped. */
  unratedUsage: UnratedUsage[];
}

function segmentsInPeriod(request: RatingRequest, catalogue: TariffCatalogue, period: BillingPeriod): SegmentContext[] {
  return resolveTariffTimeline(request.subscription, catalogue)
    .map((segment) => ({ tariff: segment.tariff, start: Math.max(segment.start, period.start), end: Math.min(segment.end ?? period.end, period.end) }))
    .filter((segment) => segment.start < segment.end)
    .map((segment, segmentIndex) => ({ ...segment, segmentIndex, period, subscription: request.subscription }));
}

/**
 * Rates one billing period of one subscription: the pure core of the rater.
 * The same request always yields the same result, line for line.
 *
 * Per tariff segment: recurring fees, usage charges, discounts, then a
 * minimum-charge top-up; then tax over the whole period's lines.
 */
export function referenceRatePeriod(request: RatingRequest): RatingResult {
  const { subscription } = request;
  const catalogue = new TariffCatalogue(request.tariffs);
  const period = billingPeriodForKey(request.period, subscription.billingCycle, subscription.timeZone);
  const segments = segmentsInPeriod(request, catalogue, period);
  const currency = catalogue.get(subscription.tariff).currency;

  const bucketsInPeriod = request.usage.filter((bucket) => bucket.start >= period.start && bucket.start < period.end);
  const segmentOf = (bucket: UsageBucket) => segments.find((segment) => bucket.start >= segment.start && bucket.start < segment.end);
  const outsideSubscription = bucketsInPeriod.filter((bucket) => segmentOf(bucket) === undefined);

  const lines: RatedLine[] = [];
  const events: FairUsageEvent[] = [];
  const unmatched: UsageBucket[] = [];
  for (const segment of segments) {
    const buckets = bucketsInPeriod.filter((bucket) => segmentOf(bucket) === segment);
    const usage = rateUsageCharges(segment, buckets);
    const chargeLines = [...rateRecurringFees(segment), ...usage.lines];
    const discountLines = rateDiscounts(segment, chargeLines);
    const minimumLines = rateMinimumCharge(segment, [...chargeLines, ...discountLines]);
    lines.push(...chargeLines, ...discountLines, ...minimumLines);
    unmatched.push(...usage.unmatched);
    const event = detectFairUsageCrossing(segment, buckets);
    if (event) events.push(event);
  }

  const tariffOfLine = (line: RatedLine) => segments[line.segmentIndex].tariff;
  const taxed = applyTax(lines, tariffOfLine);
  const money = (value: Parameters<typeof formatAmount>[0]) => formatAmount(value, currency);

  return {
    subscriberId: subscription.subscriberId,
    currency,
    period: describePeriod(period),
    segments: segments.map((segment) => ({
      tariff: { id: segment.tariff.id, version: segment.tariff.version },
      tariffName: segment.tariff.name,
      start: formatInstant(segment.start, period.timeZone),
      end: formatInstant(segment.end, period.timeZone),
      speed: segment.tariff.speed ?? null,
    })),
    lines: taxed.lines.map((line) => serializeLine(line, currency, period.timeZone)),
    taxes: taxed.summaries.map((summary) => ({
      name: summary.rule.name,
      ratePercent: summary.rule.ratePercent,
      inclusion: summary.rule.inclusion,
      net: money(summary.net),
      tax: money(summary.tax),
      gross: money(summary.gross),
    })),
    totals: {
      net: money(sumDecimals(taxed.lines.map((line) => line.net))),
      tax: money(sumDecimals(taxed.lines.map((line) => line.tax))),
      gross: money(sumDecimals(taxed.lines.map((line) => line.gross))),
    },
    events,
    unratedUsage: summarizeUnratedUsage([
      ...outsideSubscription.map((bucket) => ({ bucket, reason: 'outside-subscription' as const })),
      ...unmatched.map((bucket) => ({ bucket, reason: 'no-matching-charge' as const })),
    ]),
  };
}


// ---- the luxon time helpers, for tests of the offset tables ----
export { formatInstant as referenceFormatInstant, localClock as referenceLocalClock, localDayNumber as referenceLocalDayNumber, measureUsage as referenceMeasureUsage };
