import { describe, expect, it } from 'vitest';
import { GB, amounts, bucket, buckets, rate, subscription, tariff } from './support/builders.js';

describe('rating a period: proration and cycles', () => {
  it('spreads a fee daily: one line per day of service, the month adding up to the fee', () => {
    const daily = tariff({ id: 'daily', recurringFees: [{ id: 'internet', name: 'Internet', price: '500', spread: 'daily', charge: 'arrears' }] });
    const fullMonth = rate({ tariffs: [daily], subscription: subscription({ tariff: { id: 'daily', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }), period: '2026-03' });
    expect(fullMonth.lines).toHaveLength(31);
    expect(fullMonth.totals.gross).toBe('500.00');
    // 500/31 = 16.129…: most days 16.13, some 16.12, so that the month is exactly 500.00.
    expect(new Set(fullMonth.lines.map((line) => line.amount))).toEqual(new Set(['16.13', '16.12']));
    expect(fullMonth.lines[0]).toMatchObject({ id: 's0/recurring/internet/2026-03-01', billableAt: '2026-03-02T00:00:00.000+03:00' });

    const fromThe20th = rate({ tariffs: [daily], subscription: subscription({ tariff: { id: 'daily', version: 1 }, activatedAt: '2026-03-20T17:00:00+03:00' }), period: '2026-03' });
    expect(fromThe20th.lines.map((line) => line.id.slice(-10))).toEqual(Array.from({ length: 12 }, (_, index) => `2026-03-${20 + index}`));
  });

  it('prorates by second when the tariff says so', () => {
    const perSecond = tariff({ id: 'per-second', proration: 'second', recurringFees: [{ id: 'fee', name: 'Fee', price: '744', charge: 'arrears' }] });
    const result = rate({
      tariffs: [perSecond],
      subscription: subscription({ tariff: { id: 'per-second', version: 1 }, activatedAt: '2026-03-31T12:00:00+03:00' }),
      period: '2026-03',
    });
    // 12 hours of 744 → 744 × 43200 / 2678400 = 12.00
    expect(amounts(result)).toEqual({ 's0/recurring/fee': '12.00' });
    expect(result.lines[0].proration).toEqual({ basis: 'second', coveredUnits: 43_200, periodUnits: 2_678_400 });
  });

  it('credits the unused days of an advance fee when the subscription ends mid-period', () => {
    const plan = tariff({ id: 'plan', recurringFees: [{ id: 'fee', name: 'Internet', price: '300' }] });
    const result = rate({
      tariffs: [plan],
      subscription: subscription({ tariff: { id: 'plan', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00', terminatedAt: '2026-04-11T15:00:00+03:00' }),
      period: '2026-04',
    });
    // 20 of 30 days unused: credit 200.00, leaving 100.00 for 1–10 April.
    expect(amounts(result)).toEqual({ 's0/recurring/fee': '300.00', 's0/recurring-credit/fee': '-200.00' });
    expect(result.totals.gross).toBe('100.00');
  });

  it('rates an anniversary period anchored on the 31st over [28 Feb, 31 Mar)', () => {
    const plan = tariff({ id: 'plan', recurringFees: [{ id: 'fee', name: 'Internet', price: '310', charge: 'arrears' }] });
    const result = rate({
      tariffs: [plan],
      subscription: subscription({
        tariff: { id: 'plan', version: 1 },
        billingCycle: { kind: 'anniversary', anchorDay: 31 },
        activatedAt: '2026-03-10T00:00:00+03:00',
      }),
      period: '2026-02',
    });
    expect(result.period).toMatchObject({ start: '2026-02-28T00:00:00.000+03:00', end: '2026-03-31T00:00:00.000+03:00' });
    // Active 10–30 March: 21 of 31 days of 310 = 210.00.
    expect(amounts(result)).toEqual({ 's0/recurring/fee': '210.00' });
  });

  it('rates nothing for a period before activation', () => {
    const plan = tariff({ id: 'plan', recurringFees: [{ id: 'fee', name: 'Internet', price: '300' }] });
    const result = rate({ tariffs: [plan], subscription: subscription({ tariff: { id: 'plan', version: 1 }, activatedAt: '2026-05-01T00:00:00+03:00' }), period: '2026-04' });
    expect(result.lines).toEqual([]);
    expect(result.totals).toEqual({ net: '0.00', tax: '0.00', gross: '0.00' });
  });
});

describe('rating a period: usage across segments', () => {
  const metered = (id: string, price: string, includedUnits: string, allowanceProration: 'prorated' | 'full' = 'prorated') =>
    tariff({
      id,
      allowanceProration,
      recurringFees: [{ id: 'fee', name: id, price: id === 'small' ? '100' : '400', charge: 'arrears' }],
      usageCharges: [{ id: 'internet', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB' }, includedUnits, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: price }] } }],
    });

  it('prices each bucket by the tariff in force at its start, each with its prorated allowance', () => {
    const result = rate({
      tariffs: [metered('small', '10', '10'), metered('big', '1', '100')],
      subscription: subscription({
        tariff: { id: 'small', version: 1 },
        activatedAt: '2026-01-01T00:00:00+03:00',
        planChanges: [{ requestedAt: '2026-04-16T00:00:00+03:00', tariff: { id: 'big', version: 1 } }],
      }),
      usage: buckets([bucket('2026-04-10T10:00:00+03:00', 8n * GB), bucket('2026-04-20T10:00:00+03:00', 60n * GB)]),
      period: '2026-04',
    });
    const usageLines = result.lines.filter((line) => line.kind === 'usage');
    // Small: 15/30 of 10 GB = 5 GB included, 3 GB over at 10 = 30.00. Big: 15/30 of 100 GB = 50 GB, 10 GB over at 1 = 10.00.
    expect(usageLines.map((line) => [line.id, line.usage?.includedUnits, line.quantity, line.amount])).toEqual([
      ['s0/usage/internet', '5', '3', '30.00'],
      ['s1/usage/internet', '50', '10', '10.00'],
    ]);
  });

  it('keeps the full allowance when the tariff says so', () => {
    const result = rate({
      tariffs: [metered('small', '10', '10', 'full')],
      subscription: subscription({ tariff: { id: 'small', version: 1 }, activatedAt: '2026-04-16T00:00:00+03:00' }),
      usage: buckets([bucket('2026-04-20T10:00:00+03:00', 8n * GB)]),
      period: '2026-04',
    });
    expect(result.lines.find((line) => line.kind === 'usage')).toMatchObject({ quantity: '0', amount: '0.00', usage: { includedUnits: '10' } });
  });

  it('reports usage it cannot price instead of dropping it', () => {
    const result = rate({
      tariffs: [metered('small', '10', '10')],
      subscription: subscription({ tariff: { id: 'small', version: 1 }, activatedAt: '2026-04-16T00:00:00+03:00' }),
      usage: buckets([
        bucket('2026-04-10T10:00:00+03:00', 1n * GB),
        bucket('2026-04-20T10:00:00+03:00', 2n * GB, { class: 'voip' }),
        bucket('2026-04-21T10:00:00+03:00', 3n * GB, { class: 'voip' }),
        bucket('2026-05-01T10:00:00+03:00', 4n * GB),
      ]),
      period: '2026-04',
    });
    expect(result.unratedUsage).toEqual([
      { reason: 'no-matching-charge', class: 'voip', direction: 'download', bucketCount: 2, bytes: '5000000000' },
      { reason: 'outside-subscription', class: 'internet', direction: 'download', bucketCount: 1, bytes: '1000000000' },
    ]);
  });

  it('matches upload-only and download-only charges by direction', () => {
    const split = tariff({
      id: 'split',
      usageCharges: [
        { id: 'down', name: 'Download', class: 'internet', direction: 'download', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '1' }] } },
        { id: 'up', name: 'Upload', class: 'internet', direction: 'upload', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '3' }] } },
      ],
    });
    const result = rate({
      tariffs: [split],
      subscription: subscription({ tariff: { id: 'split', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets([bucket('2026-03-02T10:00:00+03:00', 5n * GB), bucket('2026-03-02T10:00:00+03:00', 2n * GB, { direction: 'upload' })]),
      period: '2026-03',
    });
    expect(amounts(result)).toEqual({ 's0/usage/down': '5.00', 's0/usage/up': '6.00' });
  });

  it('applies a weekend-only window by the weekday in the subscriber’s zone', () => {
    const weekend = tariff({
      id: 'weekend',
      usageCharges: [
        {
          id: 'weekend',
          name: 'Weekend nights',
          class: 'internet',
          direction: 'both',
          timeWindow: { name: 'weekend-night', from: '23:00', to: '07:00', daysOfWeek: [6, 7] },
          measure: { unit: 'GB' },
          pricing: { kind: 'free' },
        },
        { id: 'other', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '1' }] } },
      ],
    });
    const result = rate({
      tariffs: [weekend],
      subscription: subscription({ tariff: { id: 'weekend', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets([
        // Saturday 7 March 2026, 23:30 Moscow: weekend night.
        bucket('2026-03-07T23:30:00+03:00', 4n * GB),
        // Friday 6 March, 23:30 Moscow: a night, but not a weekend day.
        bucket('2026-03-06T23:30:00+03:00', 2n * GB),
        // Sunday 8 March, 06:59 Moscow: still inside the window.
        bucket('2026-03-08T06:59:00+03:00', 1n * GB),
      ]),
      period: '2026-03',
    });
    expect(result.lines.map((line) => [line.chargeId, line.quantity, line.amount])).toEqual([
      ['weekend', '5', '0.00'],
      ['other', '2', '2.00'],
    ]);
  });
});
