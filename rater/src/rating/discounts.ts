import { Decimal, ZERO, allocateByWeights, minorUnitDigits, roundToMinorUnit, sumDecimals } from '@flowbill/shared/money/index';
import { proratedAmount } from '../period/proration.js';
import { activeDiscount, type ActiveDiscount } from './discount-eligibility.js';
import type { LineKind, RatedLine } from './rated-line.js';
import { segmentLabel, type SegmentContext } from './segment-context.js';
import { tariffDecimal } from '../tariff/tariff-decimals.js';

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
    return roundToMinorUnit(base.times(tariffDecimal(discount.percent)).dividedBy(100), tariff.currency, tariff.rounding);
  }
  // A fixed amount per period shrinks with a partial period, like a fee.
  const prorated = proratedAmount(tariffDecimal(discount.amount), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  return Decimal.min(prorated.amount, base);
}

/**
 * Discount lines for one segment, applied in tariff order. Each takes from
 * what earlier discounts left in its scope (recurring fees, usage or both), so
 * several discounts compound and can never take a scope below zero.
 */
export function rateDiscounts(context: SegmentContext, chargeLines: readonly RatedLine[]): RatedLine[] {
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
        percent: candidate.kind === 'percent' ? tariffDecimal(candidate.percent) : null,
        fixedAmount: candidate.kind === 'fixed' ? tariffDecimal(candidate.amount) : null,
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
