import { describe, expect, it } from 'vitest';
import { parseSubscription, parseTariff } from '../../src/input/parse-inputs.js';
import type { RatingBasis } from '../../src/billing/catalog/rating-basis.js';
import { rateBasis, totalsOf } from '../../src/billing/rating/document.js';
import { deltaLines, ledgerOf } from '../../src/billing/rating/line-delta.js';
import type { UsageBucket } from '../../src/usage/usage-schema.js';
import { homeMetered } from './support/tariffs.js';

/**
 * Late usage as "rate all usage, minus what is billed": the delta lines add up to the
 * difference of the two full ratings, charge by charge, tiers and tax included.
 * home-metered: 10 GB included, then 2.50 RUB/GB to 40 GB, 1.50 beyond; VAT 20% included.
 */
const GB = 1_000_000_000n;
const basis: RatingBasis = {
  subscriberId: 'sub-1',
  periodKey: '2026-03',
  period: { start: Date.parse('2026-03-01T00:00:00+03:00'), end: Date.parse('2026-04-01T00:00:00+03:00'), timeZone: 'Europe/Moscow' },
  currency: 'RUB',
  sections: [
    {
      key: 'plan',
      tariffs: [parseTariff({ ...homeMetered(), version: 1 })],
      subscription: parseSubscription({ subscriberId: 'sub-1', timeZone: 'Europe/Moscow', activatedAt: '2025-11-03T12:00:00+03:00', tariff: { id: 'home-metered', version: 1 } }),
      withUsage: true,
    },
  ],
};
const usage = (gb: bigint, at = '2026-03-05T20:00:00+03:00'): UsageBucket => ({ start: Date.parse(at), class: 'internet', direction: 'download', bytes: gb * GB });
const options = { adjustmentId: 'ADJ-sub-1-2026-03-2', referencePeriodKey: '2026-03', currency: 'RUB' };

describe('deltaLines', () => {
  it('bills 3 late GB over a 25 GB invoice as 7.50 RUB (VAT 1.25), leaving the fee alone', () => {
    const billed = rateBasis(basis, [usage(25n)]).lines;
    const full = rateBasis(basis, [usage(25n), usage(3n, '2026-03-20T10:00:00+03:00')]).lines;
    const delta = deltaLines(full, ledgerOf(billed), options);
    expect(delta).toHaveLength(1);
    expect(delta[0]).toMatchObject({
      key: 'ADJ-sub-1-2026-03-2:plan:s0/usage/internet',
      chargeKey: 'plan:s0/usage/internet',
      adjustmentId: 'ADJ-sub-1-2026-03-2',
      referencePeriodKey: '2026-03',
      quantity: '3',
      unitPrice: '2.5',
      amount: '7.50',
      tax: '1.25',
      net: '6.25',
      gross: '7.50',
      tiers: [{ tierIndex: 0, fromUnits: '0', toUnits: '40', units: '3', unitPrice: '2.5', exactAmount: '7.5', amount: '7.50' }],
      adjustment: {
        before: { quantity: '15', amount: '37.50', tax: '6.25', net: '31.25', gross: '37.50', bytes: '25000000000' },
        after: { quantity: '18', amount: '45.00', tax: '7.50', net: '37.50', gross: '45.00', bytes: '28000000000' },
      },
    });
    expect(delta[0].usage).toMatchObject({ bytes: '3000000000', measuredUnits: '3', billableUnits: '3', includedUnits: '10', bucketCount: 1 });
  });

  it('crosses a tier boundary and moves a kopeck of VAT exactly: 28 -> 55 GB adds 62.50 = 52.08 + 10.42', () => {
    const billed = [...rateBasis(basis, [usage(25n)]).lines];
    const firstLate = deltaLines(rateBasis(basis, [usage(25n), usage(3n)]).lines, ledgerOf(billed), options);
    const full = rateBasis(basis, [usage(25n), usage(3n), usage(27n)]).lines;
    const second = deltaLines(full, ledgerOf([...billed, ...firstLate]), { ...options, adjustmentId: 'ADJ-sub-1-2026-03-3' });
    expect(second.map((line) => [line.chargeKey, line.amount, line.tax, line.net, line.quantity])).toEqual([['plan:s0/usage/internet', '62.50', '10.42', '52.08', '27']]);
    expect(second[0].unitPrice).toBeNull(); // 2.50 before, two tiers now
    expect(second[0].tiers).toEqual([
      { tierIndex: 0, fromUnits: '0', toUnits: '40', units: '22', unitPrice: '2.5', exactAmount: '55', amount: '55.00' },
      { tierIndex: 1, fromUnits: '40', toUnits: null, units: '5', unitPrice: '1.5', exactAmount: '7.5', amount: '7.50' },
    ]);
    // Invoice + both adjustments = one rating of all 55 GB, to the kopeck.
    expect(totalsOf([...billed, ...firstLate, ...second], 'RUB')).toEqual(totalsOf(full, 'RUB'));
    expect(totalsOf(full, 'RUB')).toEqual({ net: '506.25', tax: '101.25', gross: '607.50' });
  });

  it('returns nothing when the full rating equals what is billed', () => {
    const billed = rateBasis(basis, [usage(25n)]).lines;
    expect(deltaLines(rateBasis(basis, [usage(25n)]).lines, ledgerOf(billed), options)).toEqual([]);
  });
});
