import { ZERO, apportionToTotal, minorUnitDigits, roundToMinorUnit, sumDecimals, type Decimal } from '@flowbill/shared/money/index';
import { tariffDecimal } from '../tariff/tariff-decimals.js';
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

/** Per rule object: its grouping key and its rate, computed once (a tariff's rule is the same object for every line). */
const ruleFacts = new WeakMap<TaxRule, { key: string; rate: Decimal; ratePlus100: Decimal }>();

function factsOf(rule: TaxRule): { key: string; rate: Decimal; ratePlus100: Decimal } {
  let facts = ruleFacts.get(rule);
  if (facts === undefined) {
    const rate = tariffDecimal(rule.ratePercent);
    facts = { key: JSON.stringify([rule.name, rate.toFixed(), rule.inclusion, rule.rounding]), rate, ratePlus100: rate.plus(100) };
    ruleFacts.set(rule, facts);
  }
  return facts;
}

function taxRuleKey(rule: TaxRule): string {
  return factsOf(rule).key;
}

/** Exact tax contained in (inclusive) or due on top of (exclusive) an amount. */
function exactTax(amount: Decimal, rule: TaxRule): Decimal {
  const { rate, ratePlus100 } = factsOf(rule);
  return rule.inclusion === 'inclusive' ? amount.times(rate).dividedBy(ratePlus100) : amount.times(rate).dividedBy(100);
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
  const taxed: (TaxedLine | undefined)[] = new Array<TaxedLine | undefined>(lines.length);
  lines.forEach((line, index) => {
    const rule = tariffOfLine(line).tax;
    if (!rule) {
      taxed[index] = withTax(line, null, ZERO);
      return;
    }
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
  return { lines: taxed as TaxedLine[], summaries };
}
