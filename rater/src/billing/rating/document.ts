import { Decimal, minorUnitDigits, sumDecimals } from '@flowbill/shared/money/index';
import type { FairUsageEvent } from '../../rating/fair-usage.js';
import { ratePeriod } from '../../rating/rate-period.js';
import type { UnratedUsage } from '../../rating/unrated-usage.js';
import type { UsageBucket } from '../../usage/usage-schema.js';
import type { RatingBasis } from '../catalog/rating-basis.js';
import { fromLineItem, type BillLine } from './bill-line.js';

export interface Totals {
  net: string;
  tax: string;
  gross: string;
}

export interface TaxTotal extends Totals {
  name: string;
  ratePercent: string;
  inclusion: 'inclusive' | 'exclusive';
}

/** The period's own charges: every section rated, lines in section order. */
export interface RatedPeriod {
  currency: string | null;
  lines: BillLine[];
  events: { section: string; event: FairUsageEvent }[];
  unratedUsage: { section: string; usage: UnratedUsage }[];
}

export function rateBasis(basis: RatingBasis, usage: readonly UsageBucket[]): RatedPeriod {
  const rated: RatedPeriod = { currency: basis.currency, lines: [], events: [], unratedUsage: [] };
  for (const section of basis.sections) {
    const result = ratePeriod({ tariffs: section.tariffs, subscription: section.subscription, usage: section.withUsage ? usage : [], period: basis.periodKey });
    rated.lines.push(...result.lines.map((item) => fromLineItem(item, section.key, basis.periodKey)));
    rated.events.push(...result.events.map((event) => ({ section: section.key, event })));
    rated.unratedUsage.push(...result.unratedUsage.map((entry) => ({ section: section.key, usage: entry })));
  }
  return rated;
}

/** Totals of a document are the sums of its lines, so they agree to the kopeck by construction. */
export function totalsOf(lines: readonly BillLine[], currency: string): Totals {
  const digits = minorUnitDigits(currency);
  const sum = (pick: (line: BillLine) => string) => sumDecimals(lines.map((line) => new Decimal(pick(line)))).toFixed(digits);
  return { net: sum((line) => line.net), tax: sum((line) => line.tax), gross: sum((line) => line.gross) };
}

/**
 * Tax per rule over the document. The rater allocates each rule's rounded tax to the
 * lines it covers, so summing the lines gives back each section's tax exactly; lines of
 * several sections (or adjustments) under one rule simply add up.
 */
export function taxesOf(lines: readonly BillLine[], currency: string): TaxTotal[] {
  const groups = new Map<string, { rule: NonNullable<BillLine['taxRule']>; lines: BillLine[] }>();
  for (const line of lines) {
    if (line.taxRule === null) continue;
    const key = JSON.stringify([line.taxRule.name, new Decimal(line.taxRule.ratePercent).toFixed(), line.taxRule.inclusion]);
    const group = groups.get(key) ?? { rule: line.taxRule, lines: [] };
    group.lines.push(line);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ rule, lines: grouped }) => ({ name: rule.name, ratePercent: rule.ratePercent, inclusion: rule.inclusion, ...totalsOf(grouped, currency) }));
}
