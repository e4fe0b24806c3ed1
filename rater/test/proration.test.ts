import { describe, expect, it } from 'vitest';
import { Decimal } from '@flowbill/shared/money/index';
import { billingPeriodForKey } from '../src/period/billing-period.js';
import { proratedAmount, spanLength } from '../src/period/proration.js';
import { parseIsoInstant } from '../src/time/zoned-time.js';

const moscowMarch = billingPeriodForKey('2026-03', { kind: 'calendar-month' }, 'Europe/Moscow');
const at = (iso: string) => parseIsoInstant(iso, 'Europe/Moscow');

describe('span lengths', () => {
  it('count calendar days, giving the day of a change to the state after it', () => {
    expect(spanLength(moscowMarch.start, moscowMarch.end, 'day', 'Europe/Moscow')).toBe(31);
    expect(spanLength(moscowMarch.start, at('2026-03-15T18:30'), 'day', 'Europe/Moscow')).toBe(14);
    expect(spanLength(at('2026-03-15T18:30'), moscowMarch.end, 'day', 'Europe/Moscow')).toBe(17);
  });

  it('count a 23-hour DST day as one day', () => {
    const berlinMarch = billingPeriodForKey('2026-03', { kind: 'calendar-month' }, 'Europe/Berlin');
    expect(spanLength(berlinMarch.start, berlinMarch.end, 'day', 'Europe/Berlin')).toBe(31);
    expect(spanLength(berlinMarch.start, berlinMarch.end, 'second', 'Europe/Berlin')).toBe(743 * 3600);
  });
});

describe('prorated amounts', () => {
  it('by second: 12 hours of a 31-day month at 744.00 is 12.00', () => {
    const part = proratedAmount(new Decimal('744'), at('2026-03-10T00:00'), at('2026-03-10T12:00'), moscowMarch, 'second', 'RUB', 'half-up');
    expect(part.amount.toFixed(2)).toBe('12.00');
    expect([part.coveredUnits, part.periodUnits]).toEqual([43_200, 2_678_400]);
  });

  it('splits 100.00 over three equal thirds of a 30-day month without losing the kopeck', () => {
    const april = billingPeriodForKey('2026-04', { kind: 'calendar-month' }, 'Europe/Moscow');
    const cuts = [april.start, at('2026-04-11T00:00'), at('2026-04-21T00:00'), april.end];
    const parts = cuts.slice(1).map((end, index) => proratedAmount(new Decimal('100'), cuts[index], end, april, 'day', 'RUB', 'half-up').amount.toFixed(2));
    // 100 − round(66.666…) = 33.33; 66.67 − round(33.333…) = 33.34; 33.33 − 0 = 33.33.
    expect(parts).toEqual(['33.33', '33.34', '33.33']);
  });

  it.each([
    // fee, period, from, exact share, half-up, half-even, down, up
    ['100', '2026-03', '2026-03-30T00:00', '2/31 × 100 = 6.4516…', ['6.45', '6.45', '6.45', '6.46']],
    ['0.15', '2026-04', '2026-04-30T00:00', '1/30 × 0.15 = 0.005', ['0.01', '0.00', '0.00', '0.01']],
  ] as const)('rounds %s for the rest of %s from %s (%s) by the stated mode', (fee, key, from, _exact, expected) => {
    const period = billingPeriodForKey(key, { kind: 'calendar-month' }, 'Europe/Moscow');
    const modes = ['half-up', 'half-even', 'down', 'up'] as const;
    const results = modes.map((mode) => proratedAmount(new Decimal(fee), at(from), period.end, period, 'day', 'RUB', mode).amount.toFixed(2));
    expect(results).toEqual([...expected]);
  });
});
