import { describe, expect, it } from 'vitest';
import { parseTariff } from '../../src/input/parse-inputs.js';
import { buildRatingBasis, basisFingerprint } from '../../src/billing/catalog/rating-basis.js';
import type { SubscriptionRecord, TariffVersionRecord } from '../../src/billing/catalog/records.js';
import { VersionIndex } from '../../src/billing/catalog/version-index.js';
import { BillingError } from '../../src/billing/errors.js';
import { rateBasis, totalsOf } from '../../src/billing/rating/document.js';
import { homeMetered, router } from './support/tariffs.js';

/** How the catalog (versions by date, plan changes, add-ons, overrides, promotions) becomes the rater's input. */

const at = (iso: string) => Date.parse(iso);

function version(json: Record<string, unknown>, versionNumber: number, effectiveFrom: string): TariffVersionRecord {
  return { tariffId: json.id as string, version: versionNumber, effectiveFrom: at(effectiveFrom), tariff: parseTariff({ ...json, version: versionNumber }) };
}

function subscription(overrides: Partial<SubscriptionRecord> = {}): SubscriptionRecord {
  return {
    subscriberId: 'sub-1',
    timeZone: 'Europe/Moscow',
    billingCycle: { kind: 'calendar-month' },
    tariffId: 'home-metered',
    activatedAt: at('2025-11-03T12:00:00+03:00'),
    terminatedAt: null,
    planChanges: [],
    addOns: [],
    overrides: [],
    promotions: [],
    ...overrides,
  };
}

const v1 = version(homeMetered(), 1, '2025-01-01T00:00:00+03:00');

describe('which version is in force', () => {
  it('takes the latest effective_from not after the instant, and among equal ones the highest version (a correction)', () => {
    const v2 = version(homeMetered({ firstTierPrice: '3.00' }), 2, '2026-03-15T00:00:00+03:00');
    const correction = version(homeMetered({ firstTierPrice: '2.20' }), 3, '2025-01-01T00:00:00+03:00');
    const index = new VersionIndex([v1, v2, correction]);
    expect(index.at('home-metered', at('2026-03-01T00:00:00+03:00')).version).toBe(3);
    expect(index.at('home-metered', at('2026-03-15T00:00:00+03:00')).version).toBe(2);
    expect(() => index.at('home-metered', at('2024-12-31T00:00:00+03:00'))).toThrow(/no version in force at 2024-12-30T21:00:00.000Z/);
    expect(() => index.at('missing', 0)).toThrow(BillingError);
  });
});

describe('the rater subscription built for a period', () => {
  it('switches to a new price version at its effective instant, as an immediate change the rater prorates', () => {
    const v2 = version(homeMetered({ firstTierPrice: '3.00' }), 2, '2026-03-15T00:00:00+03:00');
    const basis = buildRatingBasis(subscription(), [v1, v2], '2026-03');
    expect(basis.period).toEqual({ start: at('2026-03-01T00:00:00+03:00'), end: at('2026-04-01T00:00:00+03:00'), timeZone: 'Europe/Moscow' });
    expect(basis.sections.map((section) => section.key)).toEqual(['plan']);
    const [plan] = basis.sections;
    expect(plan.tariffs.map((tariff) => tariff.version)).toEqual([1, 2]);
    expect(plan.subscription.tariff).toEqual({ id: 'home-metered', version: 1 });
    expect(plan.subscription.activatedAt).toBe(at('2025-11-03T12:00:00+03:00'));
    expect(plan.subscription.planChanges).toEqual([{ requestedAt: at('2026-03-15T00:00:00+03:00'), tariff: { id: 'home-metered', version: 2 }, effective: 'immediate' }]);
    // Fees of the split month add up to the monthly fee: 14/31 of 500 = 225.81 in advance and
    // the rest credited (-274.19), then 17/31 of 500 = 274.19 on version 2.
    const lines = rateBasis(basis, []).lines;
    expect(lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '500.00'],
      ['plan:s0/recurring-credit/internet', '-274.19'],
      ['plan:s1/recurring/internet', '274.19'],
    ]);
    expect(totalsOf(lines, 'RUB').gross).toBe('500.00');
  });

  it('keeps a downgrade requested mid-month until the period ends, on the version in force then', () => {
    const lite = version({ ...homeMetered({ id: 'lite' }), recurringFees: [{ id: 'internet', name: 'Lite access', price: '300' }] }, 1, '2025-01-01T00:00:00+03:00');
    const record = subscription({ planChanges: [{ requestedAt: at('2026-03-10T09:00:00+03:00'), tariffId: 'lite', effective: null }] });
    const march = buildRatingBasis(record, [v1, lite], '2026-03');
    expect(march.sections[0].tariffs.map((tariff) => tariff.id)).toEqual(['home-metered']);
    const april = buildRatingBasis(record, [v1, lite], '2026-04');
    expect(april.sections[0].subscription.tariff).toEqual({ id: 'lite', version: 1 });
    expect(april.sections[0].subscription.planChanges).toEqual([]);
  });

  it('rates each add-on as its own section from the day it was added, without usage', () => {
    const routerV1 = version(router(), 1, '2025-01-01T00:00:00+03:00');
    const record = subscription({ addOns: [{ addOnId: 'router', tariffId: 'router', activeFrom: at('2026-03-17T00:00:00+03:00'), activeTo: null }] });
    const basis = buildRatingBasis(record, [v1, routerV1], '2026-03');
    expect(basis.sections.map((section) => [section.key, section.withUsage])).toEqual([
      ['plan', true],
      ['addon:router', false],
    ]);
    // 15 of 31 days of 100 RUB: 100 - round(100 x 16/31) = 100 - 51.61 = 48.39.
    const lines = rateBasis(basis, []).lines;
    expect(lines.find((line) => line.section === 'addon:router')?.amount).toBe('48.39');
  });

  it('applies individual terms for whole periods and promotion discounts to the listed tariffs', () => {
    const record = subscription({
      overrides: [
        { id: '1', tariffId: 'home-metered', target: 'recurring-fee', chargeId: 'internet', price: '450', includedUnits: null, fromPeriod: '2026-03', toPeriod: '2026-04' },
        { id: '2', tariffId: 'home-metered', target: 'usage-charge', chargeId: 'internet', price: null, includedUnits: '20', fromPeriod: '2026-03', toPeriod: null },
      ],
      promotions: [
        { code: 'SPRING26', name: 'Spring: 10% off', discount: { kind: 'percent', percent: '10', appliesTo: ['recurring'], periods: 2 }, tariffIds: ['home-metered'], appliedAt: at('2026-03-02T10:00:00+03:00') },
      ],
    });
    const february = buildRatingBasis(record, [v1], '2026-02').sections[0].tariffs[0];
    expect(february.recurringFees[0].price).toBe('500');
    const march = buildRatingBasis(record, [v1], '2026-03');
    const tariff = march.sections[0].tariffs[0];
    expect(tariff.recurringFees[0].price).toBe('450');
    expect(tariff.usageCharges[0].includedUnits).toBe('20');
    expect(tariff.discounts.map((discount) => [discount.id, discount.promoCode])).toEqual([['promo-SPRING26', 'SPRING26']]);
    expect(march.sections[0].subscription.promoCodes).toEqual([{ code: 'SPRING26', appliedAt: at('2026-03-02T10:00:00+03:00') }]);
    // 450 less 10% = 405.00; 25 GB with 20 included: 5 x 2.50 = 12.50.
    const lines = rateBasis(march, [{ start: at('2026-03-05T20:00:00+03:00'), class: 'internet', direction: 'download', bytes: 25_000_000_000n }]).lines;
    expect(lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '450.00'],
      ['plan:s0/usage/internet', '12.50'],
      ['plan:s0/discount/promo-SPRING26', '-45.00'],
    ]);
    expect(buildRatingBasis(record, [v1], '2026-05').sections[0].tariffs[0].recurringFees[0].price).toBe('500');
  });

  it('refuses an override of a fee the tariff does not have, and tariffs of two currencies on one invoice', () => {
    const badOverride = subscription({
      overrides: [{ id: '7', tariffId: 'home-metered', target: 'recurring-fee', chargeId: 'tv', price: '10', includedUnits: null, fromPeriod: '2026-01', toPeriod: null }],
    });
    expect(() => buildRatingBasis(badOverride, [v1], '2026-03')).toThrow(/override 7 sets recurring fee "tv", which home-metered@1 does not have/);
    const euroRouter = version({ ...router(), currency: 'EUR' }, 1, '2025-01-01T00:00:00+03:00');
    const mixed = subscription({ addOns: [{ addOnId: 'router', tariffId: 'router', activeFrom: at('2026-01-01T00:00:00+03:00'), activeTo: null }] });
    expect(() => buildRatingBasis(mixed, [v1, euroRouter], '2026-03')).toThrow(/mix currencies \(RUB, EUR\)/);
  });

  it('has no sections outside the subscription, and a fingerprint that changes with the terms only', () => {
    const ended = subscription({ terminatedAt: at('2026-02-01T00:00:00+03:00') });
    expect(buildRatingBasis(ended, [v1], '2026-03')).toMatchObject({ sections: [], currency: null });
    const same = basisFingerprint(buildRatingBasis(subscription(), [v1], '2026-03'));
    expect(basisFingerprint(buildRatingBasis(subscription(), [v1], '2026-03'))).toBe(same);
    const corrected = version(homeMetered({ firstTierPrice: '2.20' }), 2, '2025-01-01T00:00:00+03:00');
    expect(basisFingerprint(buildRatingBasis(subscription(), [v1, corrected], '2026-03'))).not.toBe(same);
  });
});
