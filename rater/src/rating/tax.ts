import { Decimal, ZERO, apportionToTotal, minorUnitDigits, roundToMinorUnit, sumDecimals, toDecimal } from '@flowbill/shared/money/index';
import type { Tariff, TaxRule } from '../tariff/tariff-schema.js';
import type { RatedLine, TaxedLine } from './rated-line.js';

export interface TaxSummary {
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
export function applyTax(lines: readonly RatedLine[], tariffOfLine: (line: RatedLine) => Tariff): { lines: TaxedLine[]; summaries: TaxSummary[] } {
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
