import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCY_MINOR_UNITS,
  Decimal,
  addMoney,
  allocateByWeights,
  allocateMoney,
  apportionToTotal,
  formatMoneyAmount,
  fromMinorUnits,
  minorUnitDigits,
  money,
  roundMoney,
  roundToMinorUnit,
  sumMoney,
  toDecimal,
  toMinorUnits,
} from '@flowbill/shared/money/index';

describe('currency table', () => {
  it.each([
    ['RUB', 2],
    ['USD', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['KZT', 2],
    ['BYN', 2],
    ['UAH', 2],
    ['GBP', 2],
    ['KWD', 3],
  ])('%s has %i minor-unit digits', (code, digits) => {
    expect(minorUnitDigits(code)).toBe(digits);
  });

  it('refuses a code it does not know instead of guessing two digits', () => {
    expect(() => minorUnitDigits('RUR')).toThrow(/Unknown or unsupported currency code "RUR"/);
    expect(() => money('1', 'XXX')).toThrow(RangeError);
  });

  it('lists only three-letter upper-case codes', () => {
    for (const code of Object.keys(CURRENCY_MINOR_UNITS)) expect(code).toMatch(/^[A-Z]{3}$/);
  });
});

describe('exact decimals', () => {
  it('refuses fractional JS numbers, which are already inexact', () => {
    expect(() => toDecimal(0.1)).toThrow(/Refusing/);
    expect(toDecimal(3).toFixed()).toBe('3');
    expect(toDecimal(10n ** 30n).toFixed()).toBe('1000000000000000000000000000000');
  });

  it('adds 0.1 and 0.2 to exactly 0.3', () => {
    expect(addMoney(money('0.1', 'RUB'), money('0.2', 'RUB')).amount.toFixed()).toBe('0.3');
  });

  it('never prints exponents', () => {
    expect(toDecimal('0.0000000001').toString()).toBe('0.0000000001');
  });
});

describe('rounding to the minor unit', () => {
  it.each([
    ['half-up', '2.345', '2.35'],
    ['half-up', '-2.345', '-2.35'],
    ['half-even', '2.345', '2.34'],
    ['half-even', '2.355', '2.36'],
    ['down', '2.349', '2.34'],
    ['down', '-2.349', '-2.34'],
    ['up', '2.341', '2.35'],
    ['up', '-2.341', '-2.35'],
  ] as const)('%s rounds %s RUB to %s', (mode, value, expected) => {
    expect(roundToMinorUnit(value, 'RUB', mode).toFixed(2)).toBe(expected);
  });

  it('rounds yen to whole yen and dinars to fils', () => {
    expect(formatMoneyAmount(roundMoney(money('1234.5', 'JPY'), 'half-up'))).toBe('1235');
    expect(formatMoneyAmount(roundMoney(money('1.2345', 'KWD'), 'half-even'))).toBe('1.234');
  });

  it('refuses to format an amount that still needs rounding', () => {
    expect(() => formatMoneyAmount(money('1.005', 'RUB'))).toThrow(/not rounded/);
  });

  it('converts to and from kopecks', () => {
    expect(toMinorUnits(money('800.00', 'RUB'))).toBe(80000n);
    expect(formatMoneyAmount(fromMinorUnits(12345n, 'RUB'))).toBe('123.45');
    expect(() => toMinorUnits(money('0.001', 'RUB'))).toThrow(/whole number of minor units/);
  });

  it('does not mix currencies', () => {
    expect(() => sumMoney([money('1', 'RUB'), money('1', 'EUR')], 'RUB')).toThrow(/Cannot combine RUB with EUR/);
  });
});

describe('largest-remainder allocation', () => {
  it('splits 100.00 in three as 33.34 + 33.33 + 33.33', () => {
    expect(allocateMoney(money('100', 'RUB'), [1, 1, 1]).map(formatMoneyAmount)).toEqual(['33.34', '33.33', '33.33']);
  });

  it('gives the leftover kopeck to the largest remainder, not the first part', () => {
    // Exact: 14.2857…, 28.5714…, 57.1428… → floors 14.28 + 28.57 + 57.14 = 99.99; the largest remainder is the first.
    expect(allocateByWeights('100', [1, 2, 4], 2).map((part) => part.toFixed(2))).toEqual(['14.29', '28.57', '57.14']);
  });

  it('splits a negative total (a credit) into negative parts', () => {
    expect(allocateByWeights('-10', [1, 1, 1], 2).map((part) => part.toFixed(2))).toEqual(['-3.33', '-3.33', '-3.34']);
  });

  it('apportions exact values of mixed sign to a given rounded total', () => {
    expect(apportionToTotal(['1.666', '-0.333', '1.666'], '3.00', 2).map((part) => part.toFixed(2))).toEqual(['1.67', '-0.33', '1.66']);
    expect(() => apportionToTotal(['1', '1'], '5', 2)).toThrow(/more than one minor unit per part/);
  });

  it('refuses negative or all-zero weights for a non-zero total', () => {
    expect(() => allocateByWeights('10', [1, -1], 2)).toThrow(/must not be negative/);
    expect(() => allocateByWeights('10', [0, 0], 2)).toThrow(/all zero/);
    expect(allocateByWeights('0', [0, 0], 2).map((part) => part.toFixed())).toEqual(['0', '0']);
  });

  it('always sums exactly and stays within one minor unit of the exact share', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -10_000_000n, max: 10_000_000n }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 12 }).filter((weights) => weights.some((weight) => weight > 0)),
        (kopecks, weights) => {
          const total = new Decimal(kopecks.toString()).dividedBy(100);
          const parts = allocateByWeights(total, weights, 2);
          expect(parts.reduce((sum, part) => sum.plus(part), new Decimal(0)).equals(total)).toBe(true);
          const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
          parts.forEach((part, index) => {
            const exact = total.times(weights[index]).dividedBy(weightSum);
            expect(part.minus(exact).abs().lessThan('0.01')).toBe(true);
            expect(part.decimalPlaces()).toBeLessThanOrEqual(2);
          });
        },
      ),
    );
  });
});
