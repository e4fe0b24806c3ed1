import { describe, expect, it } from 'vitest';
import type { TariffInput } from '../src/tariff/tariff-schema.js';
import { GB, GIB, amounts, bucket, buckets, rate, subscription, tariff } from './support/builders.js';

/**
 * Worked examples with amounts computed by hand. Each row states the inputs in
 * billing terms and the exact line amounts and invoice total expected.
 */

const homeInternet = tariff({
  id: 'home-100',
  name: 'Home 100',
  currency: 'RUB',
  speed: { name: '100M', downloadMbps: 100, uploadMbps: 100 },
  recurringFees: [
    { id: 'internet', name: 'Internet tariff: up to 100 Mbit/s, unlimited traffic', price: '500' },
    { id: 'router', name: 'Wi-Fi router rental', price: '100' },
    { id: 'phone', name: 'Home phone, basic plan', price: '200' },
  ],
  usageCharges: [{ id: 'unlimited', name: 'Internet traffic (unlimited)', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'free' } }],
});

describe('the source document’s tariff table', () => {
  it('bills 500 + 100 + 200 = 800 RUB for a whole month', () => {
    const result = rate({
      tariffs: [homeInternet],
      subscription: subscription({ tariff: { id: 'home-100', version: 1 }, activatedAt: '2025-11-03T12:00:00+03:00' }),
      usage: buckets([bucket('2026-03-05T20:00:00+03:00', 42n * GB)]),
      period: '2026-03',
    });
    expect(amounts(result)).toEqual({
      's0/recurring/internet': '500.00',
      's0/recurring/router': '100.00',
      's0/recurring/phone': '200.00',
      's0/usage/unlimited': '0.00',
    });
    expect(result.totals).toEqual({ net: '800.00', tax: '0.00', gross: '800.00' });
    expect(result.period).toEqual({ key: '2026-03', start: '2026-03-01T00:00:00.000+03:00', end: '2026-04-01T00:00:00.000+03:00', timeZone: 'Europe/Moscow' });
    expect(result.segments[0].speed).toEqual({ name: '100M', downloadMbps: 100, uploadMbps: 100 });
    const usageLine = result.lines.find((line) => line.kind === 'usage');
    expect(usageLine?.usage).toMatchObject({ bytes: '42000000000', measuredUnits: '42' });
  });
});

describe('a mid-period upgrade of a 100 EUR/month plan on the 15th of March (31 days)', () => {
  const plan = (id: string, price: string, charge: 'advance' | 'arrears', rank: number) =>
    tariff({ id, currency: 'EUR', rank, recurringFees: [{ id: 'plan', name: `${id} monthly fee`, price, charge }] });
  const upgradeOnThe15th = (charge: 'advance' | 'arrears') =>
    rate({
      tariffs: [plan('basic', '100', charge, 1), plan('premium', '200', charge, 2)],
      subscription: subscription({
        timeZone: 'Europe/Berlin',
        tariff: { id: 'basic', version: 1 },
        activatedAt: '2026-01-01T00:00:00+01:00',
        planChanges: [{ requestedAt: '2026-03-15T10:00:00+01:00', tariff: { id: 'premium', version: 1 } }],
      }),
      period: '2026-03',
    });

  it('bills in arrears 14/31 × 100 = 45.16 for the old plan and 17/31 × 200 = 109.68 for the new one', () => {
    const result = upgradeOnThe15th('arrears');
    expect(amounts(result)).toEqual({ 's0/recurring/plan': '45.16', 's1/recurring/plan': '109.68' });
    expect(result.lines[0].proration).toEqual({ basis: 'day', coveredUnits: 14, periodUnits: 31 });
    expect(result.lines[1].proration).toEqual({ basis: 'day', coveredUnits: 17, periodUnits: 31 });
    expect(result.lines[0].covers).toEqual({ start: '2026-03-01T00:00:00.000+01:00', end: '2026-03-15T10:00:00.000+01:00' });
    expect(result.totals.gross).toBe('154.84');
  });

  it('bills in advance 100, credits the unused 17/31 (54.84) and charges the new plan at once, for the same total', () => {
    const result = upgradeOnThe15th('advance');
    expect(amounts(result)).toEqual({ 's0/recurring/plan': '100.00', 's0/recurring-credit/plan': '-54.84', 's1/recurring/plan': '109.68' });
    expect(result.lines.map((line) => line.billableAt)).toEqual([
      '2026-03-01T00:00:00.000+01:00',
      '2026-03-15T10:00:00.000+01:00',
      '2026-03-15T10:00:00.000+01:00',
    ]);
    expect(result.totals.gross).toBe('154.84');
  });

  it('keeps a downgrade requested on the 15th until the period ends', () => {
    const result = rate({
      tariffs: [plan('basic', '100', 'arrears', 1), plan('premium', '200', 'arrears', 2)],
      subscription: subscription({
        timeZone: 'Europe/Berlin',
        tariff: { id: 'premium', version: 1 },
        activatedAt: '2026-01-01T00:00:00+01:00',
        planChanges: [{ requestedAt: '2026-03-15T10:00:00+01:00', tariff: { id: 'basic', version: 1 } }],
      }),
      period: '2026-03',
    });
    expect(amounts(result)).toEqual({ 's0/recurring/plan': '200.00' });
  });

  it('applies a downgrade at once when the request says so', () => {
    const result = rate({
      tariffs: [plan('basic', '100', 'arrears', 1), plan('premium', '200', 'arrears', 2)],
      subscription: subscription({
        timeZone: 'Europe/Berlin',
        tariff: { id: 'premium', version: 1 },
        activatedAt: '2026-01-01T00:00:00+01:00',
        planChanges: [{ requestedAt: '2026-03-15T10:00:00+01:00', tariff: { id: 'basic', version: 1 }, effective: 'immediate' }],
      }),
      period: '2026-03',
    });
    // 200 − round(17/31 × 200 = 109.677…) = 90.32; then round(17/31 × 100) = 54.84.
    expect(amounts(result)).toEqual({ 's0/recurring/plan': '90.32', 's1/recurring/plan': '54.84' });
  });
});

describe('10 GB included, then overage in tiers (decimal GB)', () => {
  const tiers = [
    { upTo: '10', unitPrice: '50' },
    { upTo: '40', unitPrice: '30' },
    { upTo: null, unitPrice: '10' },
  ];
  const metered = (kind: 'graduated' | 'volume') =>
    tariff({
      id: `metered-${kind}`,
      usageCharges: [{ id: 'internet', name: 'Internet traffic', class: 'internet', direction: 'both', measure: { unit: 'GB', rounding: 'exact' }, includedUnits: '10', pricing: { kind, tiers } }],
    });
  const rateUsage = (kind: 'graduated' | 'volume', downloadGb: number, uploadGb: number) =>
    rate({
      tariffs: [metered(kind)],
      subscription: subscription({ tariff: { id: `metered-${kind}`, version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets([bucket('2026-03-02T10:00:00+03:00', BigInt(downloadGb) * GB), bucket('2026-03-02T10:00:00+03:00', BigInt(uploadGb) * GB, { direction: 'upload' })]),
      period: '2026-03',
    });

  it.each([
    // kind, download GB, upload GB, billable GB, amount, tier amounts
    ['graduated', 5, 3, '0', '0.00', []],
    ['graduated', 30, 5, '25', '950.00', ['500.00', '450.00']],
    ['graduated', 50, 10, '50', '1500.00', ['500.00', '900.00', '100.00']],
    ['volume', 30, 5, '25', '750.00', ['750.00']],
    ['volume', 50, 10, '50', '500.00', ['500.00']],
    ['volume', 15, 5, '10', '500.00', ['500.00']],
  ] as const)('%s: %s GB down + %s GB up bills %s GB for %s', (kind, down, up, billable, amount, tierAmounts) => {
    const [line] = rateUsage(kind, down, up).lines;
    expect(line.quantity).toBe(billable);
    expect(line.amount).toBe(amount);
    expect(line.usage?.includedUnits).toBe('10');
    expect(line.tiers?.map((tier) => tier.amount)).toEqual([...tierAmounts]);
  });

  it('explains a graduated line tier by tier', () => {
    const [line] = rateUsage('graduated', 50, 10).lines;
    expect(line.unitPrice).toBeNull();
    expect(line.tiers).toEqual([
      { tierIndex: 0, fromUnits: '0', toUnits: '10', units: '10', unitPrice: '50', exactAmount: '500', amount: '500.00' },
      { tierIndex: 1, fromUnits: '10', toUnits: '40', units: '30', unitPrice: '30', exactAmount: '900', amount: '900.00' },
      { tierIndex: 2, fromUnits: '40', toUnits: null, units: '10', unitPrice: '10', exactAmount: '100', amount: '100.00' },
    ]);
  });
});

describe('free traffic', () => {
  const nightAndLocal = tariff({
    id: 'night-free',
    usageCharges: [
      { id: 'local', name: 'Local and IX traffic', class: 'local', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'free' } },
      {
        id: 'night',
        name: 'Night internet (01:00–07:00)',
        class: 'internet',
        direction: 'both',
        timeWindow: { name: 'night', from: '01:00', to: '07:00' },
        measure: { unit: 'GB' },
        pricing: { kind: 'free' },
      },
      { id: 'day', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '2.50' }] } },
    ],
  });
  const result = rate({
    tariffs: [nightAndLocal],
    subscription: subscription({ tariff: { id: 'night-free', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
    usage: buckets([
      // 23:30 UTC is 02:30 in Moscow: night, free.
      bucket('2026-03-10T23:30:00Z', 7n * GB),
      // 04:30 UTC is 07:30 in Moscow: the window has closed.
      bucket('2026-03-11T04:30:00Z', 3n * GB),
      bucket('2026-03-11T12:00:00+03:00', 1n * GB, { direction: 'upload' }),
      bucket('2026-03-11T12:00:00+03:00', 50n * GB, { class: 'local' }),
    ]),
    period: '2026-03',
  });

  it('prices night traffic at zero, by the bucket’s start in the subscriber’s zone', () => {
    const night = result.lines.find((line) => line.chargeId === 'night');
    expect(night).toMatchObject({ amount: '0.00', quantity: '7', unitPrice: '0', usage: { timeWindow: 'night', bytes: '7000000000' } });
    const day = result.lines.find((line) => line.chargeId === 'day');
    expect(day).toMatchObject({ amount: '10.00', quantity: '4', unitPrice: '2.5' });
  });

  it('prices the local class at zero but still shows its volume', () => {
    const local = result.lines.find((line) => line.chargeId === 'local');
    expect(local).toMatchObject({ amount: '0.00', quantity: '50', trafficClass: 'local' });
    expect(result.totals.gross).toBe('10.00');
  });
});

describe('data units and the rounding of usage to whole units', () => {
  const perMb = (base: 'decimal' | 'binary', rounding: 'exact' | 'ceil' | 'floor', roundingScope: 'period' | 'bucket' = 'period') =>
    tariff({
      id: `mb-${base}-${rounding}-${roundingScope}`,
      usageCharges: [
        {
          id: 'internet',
          name: 'Internet per MB',
          class: 'internet',
          direction: 'both',
          measure: { unit: 'MB', base, rounding, roundingScope },
          pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '0.10' }] },
        },
      ],
    });
  const rateBytes = (base: 'decimal' | 'binary', rounding: 'exact' | 'ceil' | 'floor', bytesPerBucket: string[], roundingScope: 'period' | 'bucket' = 'period') => {
    const tariffUnderTest = perMb(base, rounding, roundingScope);
    const [line] = rate({
      tariffs: [tariffUnderTest],
      subscription: subscription({ tariff: { id: tariffUnderTest.id, version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets(bytesPerBucket.map((bytes, hour) => bucket(`2026-03-02T${String(hour).padStart(2, '0')}:00:00+03:00`, BigInt(bytes)))),
      period: '2026-03',
    }).lines;
    return { quantity: line.quantity, amount: line.amount };
  };

  it.each([
    ['decimal', 'exact', ['5000000'], '5', '0.50'],
    ['binary', 'exact', ['5000000'], '4.76837158203125', '0.48'],
    ['binary', 'ceil', ['5000000'], '5', '0.50'],
    ['binary', 'floor', ['5000000'], '4', '0.40'],
    ['decimal', 'ceil', ['1000001'], '2', '0.20'],
    ['binary', 'exact', ['1048576'], '1', '0.10'],
    ['decimal', 'ceil', ['0'], '0', '0.00'],
  ] as const)('%s MB, %s: %j bytes are %s MB costing %s', (base, rounding, bytes, quantity, amount) => {
    expect(rateBytes(base, rounding, [...bytes])).toEqual({ quantity, amount });
  });

  it('rounds per full or partial MB once per period, or per bucket when the tariff says so', () => {
    const threeSmallBuckets = ['1000001', '1000001', '1000001'];
    expect(rateBytes('decimal', 'ceil', threeSmallBuckets, 'period')).toEqual({ quantity: '4', amount: '0.40' });
    expect(rateBytes('decimal', 'ceil', threeSmallBuckets, 'bucket')).toEqual({ quantity: '6', amount: '0.60' });
  });

  it('knows 1 GiB is 2^30 bytes', () => {
    const gib = tariff({
      id: 'gib',
      usageCharges: [{ id: 'internet', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB', base: 'binary' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '1' }] } }],
    });
    const [line] = rate({
      tariffs: [gib],
      subscription: subscription({ tariff: { id: 'gib', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets([bucket('2026-03-02T10:00:00+03:00', 3n * GIB)]),
      period: '2026-03',
    }).lines;
    expect(line.quantity).toBe('3');
    expect(line.usage?.unitBytes).toBe('1073741824');
  });
});

describe('VAT', () => {
  const taxed = (tax: TariffInput['tax'], prices: string[]) =>
    tariff({ id: 'taxed', tax, recurringFees: prices.map((price, index) => ({ id: `fee-${index}`, name: `Service ${index}`, price })) });
  const rateTaxed = (tax: TariffInput['tax'], prices: string[]) =>
    rate({
      tariffs: [taxed(tax, prices)],
      subscription: subscription({ tariff: { id: 'taxed', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      period: '2026-03',
    });

  it('takes 20% inclusive VAT from the 800 RUB invoice total and shares it so the lines add up exactly', () => {
    const result = rateTaxed({ ratePercent: '20', inclusion: 'inclusive' }, ['500', '100', '200']);
    // 800 × 20/120 = 133.333… → 133.33, shared by largest remainder: 83.333…, 16.666…, 33.333…
    expect(result.lines.map((line) => [line.amount, line.tax, line.net, line.gross])).toEqual([
      ['500.00', '83.33', '416.67', '500.00'],
      ['100.00', '16.67', '83.33', '100.00'],
      ['200.00', '33.33', '166.67', '200.00'],
    ]);
    expect(result.totals).toEqual({ net: '666.67', tax: '133.33', gross: '800.00' });
    expect(result.taxes).toEqual([{ name: 'VAT', ratePercent: '20', inclusion: 'inclusive', net: '666.67', tax: '133.33', gross: '800.00' }]);
  });

  it('computes the tax of the total, not the sum of per-line rounded taxes', () => {
    // Per line 10 × 20/120 = 1.666… would round to 1.67 three times (5.01); the invoice's tax is 30 × 20/120 = 5.00.
    const result = rateTaxed({ ratePercent: '20', inclusion: 'inclusive' }, ['10', '10', '10']);
    expect(result.lines.map((line) => line.tax)).toEqual(['1.67', '1.67', '1.66']);
    expect(result.totals).toEqual({ net: '25.00', tax: '5.00', gross: '30.00' });
  });

  it('adds exclusive VAT on top', () => {
    // 99.99 × 20% = 19.998 → 20.00, shared 6.67 + 6.67 + 6.66.
    const result = rateTaxed({ ratePercent: '20', inclusion: 'exclusive' }, ['33.33', '33.33', '33.33']);
    expect(result.lines.map((line) => [line.net, line.tax, line.gross])).toEqual([
      ['33.33', '6.67', '40.00'],
      ['33.33', '6.67', '40.00'],
      ['33.33', '6.66', '39.99'],
    ]);
    expect(result.totals).toEqual({ net: '99.99', tax: '20.00', gross: '119.99' });
  });
});

describe('a promotion of 50% for 3 months', () => {
  const promoTariff = (promoCode?: string) =>
    tariff({
      id: 'promo',
      recurringFees: [{ id: 'internet', name: 'Internet', price: '500' }],
      discounts: [{ id: 'half', name: '50% off for 3 months', kind: 'percent', percent: '50', periods: 3, appliesTo: ['recurring'], ...(promoCode ? { promoCode } : {}) }],
    });

  it.each([
    // Activated on 10 January: 22 of 31 days = 354.84, half off 177.42.
    ['2026-01', '177.42'],
    ['2026-02', '250.00'],
    ['2026-03', '250.00'],
    ['2026-04', '500.00'],
  ])('from activation: %s costs %s', (period, total) => {
    const result = rate({
      tariffs: [promoTariff()],
      subscription: subscription({ tariff: { id: 'promo', version: 1 }, activatedAt: '2026-01-10T15:00:00+03:00' }),
      period,
    });
    expect(result.totals.gross).toBe(total);
  });

  it.each([
    ['2026-01', '500.00', null],
    ['2026-02', '250.00', 1],
    ['2026-04', '250.00', 3],
    ['2026-05', '500.00', null],
  ])('by promo code entered in February: %s costs %s', (period, total, periodNumber) => {
    const result = rate({
      tariffs: [promoTariff('SPRING')],
      subscription: subscription({
        tariff: { id: 'promo', version: 1 },
        activatedAt: '2025-06-01T00:00:00+03:00',
        promoCodes: [{ code: 'SPRING', appliedAt: '2026-02-05T12:00:00+03:00' }],
      }),
      period,
    });
    expect(result.totals.gross).toBe(total);
    const discount = result.lines.find((line) => line.kind === 'discount');
    expect(discount?.discount?.periodNumber ?? null).toBe(periodNumber);
  });

  it('caps a fixed discount at what it discounts and compounds percentages', () => {
    const stacked = tariff({
      id: 'stacked',
      recurringFees: [{ id: 'internet', name: 'Internet', price: '300' }],
      discounts: [
        { id: 'loyal', name: 'Loyalty 10%', kind: 'percent', percent: '10' },
        { id: 'voucher', name: 'Voucher', kind: 'fixed', amount: '1000' },
      ],
    });
    const result = rate({ tariffs: [stacked], subscription: subscription({ tariff: { id: 'stacked', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }), period: '2026-03' });
    expect(amounts(result)).toEqual({ 's0/recurring/internet': '300.00', 's0/discount/loyal': '-30.00', 's0/discount/voucher': '-270.00' });
    expect(result.totals.gross).toBe('0.00');
  });
});

describe('minimum charge', () => {
  const payAsYouGo = tariff({
    id: 'payg',
    minimumCharge: { amount: '300' },
    usageCharges: [{ id: 'internet', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '2' }] } }],
  });
  const ratePayg = (gigabytes: bigint, activatedAt = '2026-01-01T00:00:00+03:00', period = '2026-03') =>
    rate({
      tariffs: [payAsYouGo],
      subscription: subscription({ tariff: { id: 'payg', version: 1 }, activatedAt }),
      usage: buckets([bucket(`${period}-20T10:00:00+03:00`, gigabytes * GB)]),
      period,
    });

  it('tops 10 GB × 2 = 20.00 up to the 300.00 minimum', () => {
    const result = ratePayg(10n);
    expect(amounts(result)).toEqual({ 's0/usage/internet': '20.00', 's0/minimum-charge': '280.00' });
    expect(result.totals.gross).toBe('300.00');
  });

  it('adds nothing once usage passes the minimum', () => {
    expect(amounts(ratePayg(200n))).toEqual({ 's0/usage/internet': '400.00' });
  });

  it('prorates the minimum for a subscription that starts mid-period: 15 of 30 April days', () => {
    const result = ratePayg(10n, '2026-04-16T09:00:00+03:00', '2026-04');
    expect(amounts(result)).toEqual({ 's0/usage/internet': '20.00', 's0/minimum-charge': '130.00' });
  });
});

describe('fair usage on an unlimited plan', () => {
  const unlimited = tariff({
    id: 'unlimited',
    speed: { name: '500M', downloadMbps: 500 },
    recurringFees: [{ id: 'internet', name: 'Unlimited internet', price: '900' }],
    usageCharges: [{ id: 'internet', name: 'Internet traffic', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'free' } }],
    fairUsage: { class: 'internet', direction: 'both', measure: { unit: 'GB' }, thresholdUnits: '100', throttledSpeed: { name: 'fup-10M', downloadMbps: 10, uploadMbps: 10 } },
  });
  const rateUnlimited = (usageGb: bigint[]) =>
    rate({
      tariffs: [unlimited],
      subscription: subscription({ subscriberId: 'flat-42', tariff: { id: 'unlimited', version: 1 }, activatedAt: '2026-01-01T00:00:00+03:00' }),
      usage: buckets(usageGb.map((gb, day) => bucket(`2026-03-${String(day + 10)}T21:00:00+03:00`, gb * GB, { direction: day % 2 ? 'upload' : 'download' }))),
      period: '2026-03',
    });

  it('names the subscriber, the moment and the new speed profile when 100 GB is exceeded', () => {
    const result = rateUnlimited([60n, 30n, 20n, 50n]);
    expect(result.events).toEqual([
      {
        type: 'fair-usage-threshold-exceeded',
        subscriberId: 'flat-42',
        tariff: { id: 'unlimited', version: 1 },
        periodKey: '2026-03',
        at: '2026-03-12T21:00:00.000+03:00',
        thresholdBytes: '100000000000',
        usedBytes: '110000000000',
        speedProfile: { name: 'fup-10M', downloadMbps: 10, uploadMbps: 10 },
      },
    ]);
    expect(result.totals.gross).toBe('900.00');
  });

  it('stays silent at exactly the threshold', () => {
    expect(rateUnlimited([60n, 40n]).events).toEqual([]);
  });
});
