import { sumDecimals } from '@flowbill/shared/money/index';
import { billingPeriodForKey, describePeriod, type BillingPeriod } from '../period/billing-period.js';
import type { TariffRef } from '../schema/primitives.js';
import type { Subscription } from '../subscription/subscription-schema.js';
import { resolveTariffTimeline } from '../subscription/tariff-timeline.js';
import { TariffCatalogue } from '../tariff/tariff-catalogue.js';
import type { SpeedProfile, Tariff } from '../tariff/tariff-schema.js';
import { formatInstant } from '../time/zoned-time.js';
import type { UsageBucket } from '../usage/usage-schema.js';
import { rateDiscounts } from './discounts.js';
import { detectFairUsageCrossing, type FairUsageEvent } from './fair-usage.js';
import { formatAmount, serializeLine, type LineItem } from './line-item.js';
import { rateMinimumCharge } from './minimum-charge.js';
import type { RatedLine } from './rated-line.js';
import { rateRecurringFees } from './recurring-charges.js';
import type { SegmentContext } from './segment-context.js';
import { applyTax } from './tax.js';
import { summarizeUnratedUsage, type UnratedUsage } from './unrated-usage.js';
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
export function ratePeriod(request: RatingRequest): RatingResult {
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

