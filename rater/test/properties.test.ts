import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, sumDecimals } from '@flowbill/shared/money/index';
import { parseTariff } from '../src/input/parse-inputs.js';
import { billingPeriodForKey } from '../src/period/billing-period.js';
import { proratedAmount } from '../src/period/proration.js';
import { ratePeriod, type RatingResult } from '../src/rating/rate-period.js';
import type { RatedLine } from '../src/rating/rated-line.js';
import { applyTax } from '../src/rating/tax.js';
import { buckets, subscription, tariff } from './support/builders.js';
import { graduatedTiers, kopecksToString, measure, moneyString, roundingModes, tariffInput, timeZones, unitPriceString, usageAround } from './support/arbitraries.js';

const DAY = 86_400_000;
const sum = (values: string[]) => sumDecimals(values.map((value) => new Decimal(value)));

/** A whole rating request: two random tariffs, a subscription that may start, change plan and end around March 2026, and usage. */
const ratingScenario = timeZones.chain((timeZone) => {
  const period = billingPeriodForKey('2026-03', { kind: 'calendar-month' }, timeZone);
  return fc.record({
    timeZone: fc.constant(timeZone),
    first: tariffInput('first'),
    second: tariffInput('second'),
    activatedAt: fc.integer({ min: period.start - 40 * DAY, max: period.end - 60_000 }),
    changeAfter: fc.option(fc.integer({ min: 0, max: 40 * DAY }), { nil: undefined }),
    changeEffective: fc.constantFrom('immediate', 'period-end') as fc.Arbitrary<'immediate' | 'period-end'>,
    lifetime: fc.option(fc.integer({ min: 60_000, max: 60 * DAY }), { nil: undefined }),
    usage: usageAround(period.start, period.end),
  });
});

type RatingScenario = typeof ratingScenario extends fc.Arbitrary<infer Scenario> ? Scenario : never;

function rateScenario(scenario: RatingScenario): RatingResult {
  const tariffs = [parseTariff(scenario.first), parseTariff(scenario.second)];
  return ratePeriod({
    tariffs,
    subscription: subscription({
      timeZone: scenario.timeZone,
      tariff: { id: 'first', version: 1 },
      activatedAt: scenario.activatedAt,
      ...(scenario.lifetime === undefined ? {} : { terminatedAt: scenario.activatedAt + scenario.lifetime }),
      planChanges:
        scenario.changeAfter === undefined
          ? []
          : [{ requestedAt: scenario.activatedAt + scenario.changeAfter, tariff: { id: 'second', version: 1 }, effective: scenario.changeEffective }],
    }),
    usage: buckets(scenario.usage),
    period: '2026-03',
  });
}

describe('properties of the rating engine', () => {
  it('lines always sum to the totals, and each line’s net + tax = gross', () => {
    fc.assert(
      fc.property(ratingScenario, (scenario) => {
        const result = rateScenario(scenario);
        expect(sum(result.lines.map((line) => line.net)).toFixed(2)).toBe(result.totals.net);
        expect(sum(result.lines.map((line) => line.tax)).toFixed(2)).toBe(result.totals.tax);
        expect(sum(result.lines.map((line) => line.gross)).toFixed(2)).toBe(result.totals.gross);
        expect(sum(result.taxes.map((summary) => summary.tax)).toFixed(2)).toBe(result.totals.tax);
        for (const line of result.lines) {
          expect(new Decimal(line.net).plus(line.tax).toFixed(2)).toBe(line.gross);
          if (line.tiers && line.tiers.length > 0) expect(sum(line.tiers.map((tier) => tier.amount)).toFixed(2)).toBe(line.amount);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rating the same inputs twice gives identical output', () => {
    fc.assert(
      fc.property(ratingScenario, (scenario) => {
        expect(rateScenario(scenario)).toStrictEqual(rateScenario(scenario));
      }),
      { numRuns: 50 },
    );
  });

  it('never bills a negative total: credits and discounts never exceed what they reduce', () => {
    fc.assert(
      fc.property(ratingScenario, (scenario) => {
        const result = rateScenario(scenario);
        expect(new Decimal(result.totals.gross).isNegative()).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('properties of proration', () => {
  it('the prorated parts of a split period sum to the full fee to the kopeck', () => {
    fc.assert(
      fc.property(
        timeZones,
        fc.constantFrom('2026-02', '2026-03', '2026-10', '2028-02'),
        fc.integer({ min: 0, max: 100_000_00 }),
        fc.constantFrom('day', 'second') as fc.Arbitrary<'day' | 'second'>,
        roundingModes,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (timeZone, key, kopecks, basis, mode, cutShares) => {
          const period = billingPeriodForKey(key, { kind: 'calendar-month' }, timeZone);
          const length = period.end - period.start;
          // The random doubles only place the cut instants; no amount is ever a float.
          const cuts = [period.start, ...cutShares.map((share) => period.start + Math.floor(share * length)).sort((a, b) => a - b), period.end];
          const fee = new Decimal(kopecksToString(kopecks));
          const parts = cuts.slice(1).map((end, index) => proratedAmount(fee, cuts[index], end, period, basis, 'RUB', mode).amount);
          expect(sumDecimals(parts).equals(fee)).toBe(true);
          parts.forEach((part) => expect(part.decimalPlaces()).toBeLessThanOrEqual(2));
        },
      ),
    );
  });

  it('a fee shared by two plans sums to the full fee across any plan change, in advance or in arrears', () => {
    fc.assert(
      fc.property(
        timeZones,
        moneyString(),
        fc.constantFrom('advance', 'arrears') as fc.Arbitrary<'advance' | 'arrears'>,
        fc.constantFrom('day', 'second') as fc.Arbitrary<'day' | 'second'>,
        fc.integer({ min: 0, max: 31 * DAY - 1 }),
        (timeZone, price, charge, proration, offset) => {
          const plan = (id: string, rank: number) => tariff({ id, rank, proration, recurringFees: [{ id: 'router', name: 'Router rental', price, charge }] });
          const period = billingPeriodForKey('2026-03', { kind: 'calendar-month' }, timeZone);
          const result = ratePeriod({
            tariffs: [plan('a', 1), plan('b', 2)],
            subscription: subscription({
              timeZone,
              tariff: { id: 'a', version: 1 },
              activatedAt: period.start - DAY,
              planChanges: [{ requestedAt: Math.min(period.start + offset, period.end - 1), tariff: { id: 'b', version: 1 } }],
            }),
            usage: [],
            period: '2026-03',
          });
          expect(sum(result.lines.map((line) => line.amount)).toFixed(2)).toBe(new Decimal(price).toFixed(2));
        },
      ),
    );
  });
});

describe('properties of usage pricing', () => {
  it('more usage never costs less under a graduated tariff', () => {
    fc.assert(
      fc.property(
        graduatedTiers,
        measure,
        roundingModes,
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.bigInt({ min: 0n, max: 50_000_000_000n }), { minLength: 1, maxLength: 8 }),
        fc.bigInt({ min: 0n, max: 50_000_000_000n }),
        fc.boolean(),
        (tiers, usageMeasure, rounding, included, bucketBytes, extraBytes, extraAsNewBucket) => {
          const graduated = tariff({
            id: 'graduated',
            rounding,
            usageCharges: [{ id: 'internet', name: 'Internet', class: 'internet', direction: 'both', measure: usageMeasure, includedUnits: String(included), pricing: { kind: 'graduated', tiers } }],
          });
          const totalFor = (bytes: bigint[]) =>
            new Decimal(
              ratePeriod({
                tariffs: [graduated],
                subscription: subscription({ tariff: { id: 'graduated', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
                usage: buckets(bytes.map((value, index) => ({ start: `2026-03-0${1 + (index % 9)}T12:00:00+03:00`, class: 'internet', direction: 'download', bytes: value.toString() }))),
                period: '2026-03',
              }).totals.gross,
            );
          const more = extraAsNewBucket ? [...bucketBytes, extraBytes] : [bucketBytes[0] + extraBytes, ...bucketBytes.slice(1)];
          expect(totalFor(more).greaterThanOrEqualTo(totalFor(bucketBytes))).toBe(true);
        },
      ),
    );
  });
});

describe('properties of tax allocation', () => {
  it('line taxes sum exactly to the tax of the total, each within a kopeck of its exact share', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50_000_00, max: 100_000_00 }), { minLength: 1, maxLength: 15 }),
        fc.constantFrom('10', '12.5', '18', '20', '22'),
        fc.constantFrom('inclusive', 'exclusive') as fc.Arbitrary<'inclusive' | 'exclusive'>,
        roundingModes,
        (lineKopecks, ratePercent, inclusion, rounding) => {
          const taxedTariff = tariff({ id: 'taxed', tax: { ratePercent, inclusion, rounding } });
          const lines = lineKopecks.map((kopecks, index) => ({ id: `line-${index}`, amount: new Decimal(kopecksToString(kopecks)) }) as RatedLine);
          const { lines: taxed, summaries } = applyTax(lines, () => taxedTariff);
          const rate = new Decimal(ratePercent);
          const exactTaxOf = (amount: Decimal) => (inclusion === 'inclusive' ? amount.times(rate).dividedBy(rate.plus(100)) : amount.times(rate).dividedBy(100));
          const lineTaxTotal = sumDecimals(taxed.map((line) => line.tax));
          expect(lineTaxTotal.equals(summaries[0].tax)).toBe(true);
          const exactTotalTax = exactTaxOf(sumDecimals(lines.map((line) => line.amount)));
          expect(summaries[0].tax.minus(exactTotalTax).abs().lessThan('0.01')).toBe(true);
          taxed.forEach((line) => {
            expect(line.tax.minus(exactTaxOf(line.amount)).abs().lessThanOrEqualTo('0.01')).toBe(true);
            expect(line.net.plus(line.tax).equals(line.gross)).toBe(true);
          });
        },
      ),
    );
  });
});

// Keeps the unit-price generator honest: it must produce values the tariff schema accepts.
it('generated unit prices are valid tariff prices', () => {
  fc.assert(
    fc.property(unitPriceString, (unitPrice) => {
      expect(() => tariff({ id: 'p', usageCharges: [{ id: 'u', name: 'u', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice }] } }] })).not.toThrow();
    }),
    { numRuns: 50 },
  );
});
