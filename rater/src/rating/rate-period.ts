import { sumDecimals } from '@flowbill/shared/money/index';
import { billingPeriodForKey, describePeriod, type BillingPeriod } from '../period/billing-period.js';
import type { TariffRef } from '../schema/primitives.js';
import type { BillingCycle, Subscription } from '../subscription/subscription-schema.js';
import { resolveTariffTimeline } from '../subscription/tariff-timeline.js';
import { TariffCatalogue } from '../tariff/tariff-catalogue.js';
import type { SpeedProfile, Tariff } from '../tariff/tariff-schema.js';
import { zoneOffsetTable } from '../time/zone-offsets.js';
import { formatInstant } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { rateDiscounts } from './discounts.js';
import { detectFairUsageCrossing, type FairUsageEvent } from './fair-usage.js';
import { formatAmount, serializeLine, type LineItem } from './line-item.js';
import { rateMinimumCharge } from './minimum-charge.js';
import type { RatedLine } from './rated-line.js';
import { rateRecurringFees } from './recurring-charges.js';
import type { SegmentContext, SegmentUsage } from './segment-context.js';
import { applyTax } from './tax.js';
import { UnratedTally, type UnratedUsage } from './unrated-usage.js';
import { rateUsageCharges } from './usage-charges.js';

export interface RatingRequest {
  /** Every tariff version the subscription refers to (extra ones are ignored). */
  tariffs: readonly Tariff[];
  subscription: Subscription;
  /** Usage buckets of this subscriber; buckets starting outside the period are ignored. */
  usage: readonly UsageBucket[];
  /** "YYYY-MM": the billing period starting in that month under the subscription's billing cycle. */
  period: string;
}

export interface RatingResult {
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

/** The catalogue built for a list of tariffs, with the tariffs it was built from (a list reused for many subscribers). */
const catalogues = new WeakMap<readonly Tariff[], { tariffs: Tariff[]; catalogue: TariffCatalogue }>();

function catalogueOf(tariffs: readonly Tariff[]): TariffCatalogue {
  const cached = catalogues.get(tariffs);
  if (cached && cached.tariffs.length === tariffs.length && cached.tariffs.every((tariff, index) => tariff === tariffs[index])) return cached.catalogue;
  const catalogue = new TariffCatalogue(tariffs);
  catalogues.set(tariffs, { tariffs: [...tariffs], catalogue });
  return catalogue;
}

/** Periods already computed: every subscriber of a zone rated for one period asks for the same one (luxon, ~30 µs). */
const periods = new Map<string, BillingPeriod>();
const MAX_PERIODS = 10_000;

/** `billingPeriodForKey`, memoised for zones whose rules cannot change at run time (see zoneOffsetTable). */
function periodFor(key: string, cycle: BillingCycle, timeZone: string): BillingPeriod {
  if (zoneOffsetTable(timeZone) === null) return billingPeriodForKey(key, cycle, timeZone);
  const memoKey = JSON.stringify([key, cycle.kind, cycle.kind === 'anniversary' ? cycle.anchorDay : null, timeZone]);
  let period = periods.get(memoKey);
  if (period === undefined) {
    period = billingPeriodForKey(key, cycle, timeZone);
    if (periods.size >= MAX_PERIODS) periods.clear();
    periods.set(memoKey, period);
  }
  return { ...period };
}

function segmentsInPeriod(request: RatingRequest, catalogue: TariffCatalogue, period: BillingPeriod): SegmentContext[] {
  return resolveTariffTimeline(request.subscription, catalogue)
    .map((segment) => ({ tariff: segment.tariff, start: Math.max(segment.start, period.start), end: Math.min(segment.end ?? period.end, period.end) }))
    .filter((segment) => segment.start < segment.end)
    .map((segment, segmentIndex) => ({ ...segment, segmentIndex, period, subscription: request.subscription }));
}

/**
 * The usage of each segment, and the period's buckets in no segment tallied as
 * `outside-subscription`. Segments from the tariff timeline follow one another
 * without overlap inside the period, so each segment simply reads the usage
 * between its bounds (one pass per segment, no copies) and, when they cover the
 * whole period, no bucket of it can be outside them. Otherwise (overlapping
 * segments never come from the timeline) each bucket is placed explicitly.
 */
function usageBySegment(usage: readonly UsageBucket[], segments: readonly SegmentContext[], period: BillingPeriod, unrated: UnratedTally): SegmentUsage[] {
  const ordered = segments.every((segment, index) => index === 0 || segments[index - 1].end <= segment.start);
  if (ordered) {
    const covering = segments.length > 0 && segments[0].start === period.start && segments[segments.length - 1].end === period.end && segments.every((segment, index) => index === 0 || segments[index - 1].end === segment.start);
    if (!covering) {
      for (const bucket of usage) {
        const start = bucket.start;
        if (start >= period.start && start < period.end && !segments.some((segment) => start >= segment.start && start < segment.end)) unrated.add('outside-subscription', bucket);
      }
    }
    return segments.map((segment) => ({ buckets: usage, from: segment.start, to: segment.end }));
  }
  const bucketsOfSegment: UsageBucket[][] = segments.map(() => []);
  for (const bucket of usage) {
    const start = bucket.start;
    if (!(start >= period.start && start < period.end)) continue;
    const index = segments.findIndex((segment) => start >= segment.start && start < segment.end);
    if (index < 0) unrated.add('outside-subscription', bucket);
    else bucketsOfSegment[index].push(bucket);
  }
  return bucketsOfSegment.map((buckets) => ({ buckets, from: -Infinity, to: Infinity }));
}

/**
 * Rates one billing period of one subscription: the pure core of the rater.
 * The same request always yields the same result, line for line.
 *
 * Per tariff segment: recurring fees, usage charges, discounts, then a
 * minimum-charge top-up; then tax over the whole period's lines.
 */
export function ratePeriod(request: RatingRequest): RatingResult {
  const { subscription } = request;
  const catalogue = catalogueOf(request.tariffs);
  const period = periodFor(request.period, subscription.billingCycle, subscription.timeZone);
  const segments = segmentsInPeriod(request, catalogue, period);
  const currency = catalogue.get(subscription.tariff).currency;

  // Each bucket of the period goes to the first segment in force at its start.
  const unrated = new UnratedTally();
  const usageOfSegment = usageBySegment(request.usage, segments, period, unrated);

  const lines: RatedLine[] = [];
  const events: FairUsageEvent[] = [];
  segments.forEach((segment, index) => {
    const buckets = usageOfSegment[index];
    const usage = rateUsageCharges(segment, buckets);
    const chargeLines = [...rateRecurringFees(segment), ...usage.lines];
    const discountLines = rateDiscounts(segment, chargeLines);
    const minimumLines = rateMinimumCharge(segment, [...chargeLines, ...discountLines]);
    lines.push(...chargeLines, ...discountLines, ...minimumLines);
    unrated.addAll(usage.unmatched);
    const event = detectFairUsageCrossing(segment, buckets, usage.fairUsage);
    if (event) events.push(event);
  });

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
    unratedUsage: unrated.summarize(),
  };
}

