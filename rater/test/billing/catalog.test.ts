import { describe, expect, it } from 'vitest';
import { InputValidationError } from '../../src/input/parse-inputs.js';
import { BillingError } from '../../src/billing/index.js';
import { GB, createSubscriber, insertUsage, seedSubscriber, withBillingStores } from './support/billing-harness.js';
import { ACTIVATED_AT, PLAN_V1_EFFECTIVE, homeMetered, router } from './support/tariffs.js';

const harness = withBillingStores();

describe('publishing tariff versions', () => {
  it('validates with the rater, is idempotent, and refuses other terms under a published version number', async () => {
    const service = harness.service();
    const invalid = service.publishTariffVersion({ ...homeMetered({ id: 'pub-a', version: 1 }), recurringFees: [{ id: 'x', name: 'X', price: 500 }] }, PLAN_V1_EFFECTIVE);
    await expect(invalid).rejects.toThrow(InputValidationError);
    await expect(invalid).rejects.toThrow(/recurringFees\[0\]\.price: must be a decimal string/);

    const first = await service.publishTariffVersion(homeMetered({ id: 'pub-a', version: 1 }), PLAN_V1_EFFECTIVE);
    expect(first).toMatchObject({ tariffId: 'pub-a', version: 1, kind: 'plan', created: true, effectiveFrom: new Date('2024-12-31T21:00:00Z') });
    expect(first.tariff.rounding).toBe('half-up'); // stored as parsed, defaults filled in
    const again = await service.publishTariffVersion(homeMetered({ id: 'pub-a', version: 1 }), new Date('2024-12-31T21:00:00Z'));
    expect(again).toMatchObject({ version: 1, created: false });

    const edited = service.publishTariffVersion(homeMetered({ id: 'pub-a', version: 1, firstTierPrice: '2.20' }), PLAN_V1_EFFECTIVE);
    await expect(edited).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/publish a new version/) });

    // Editing = publishing without a version number: the next one is assigned.
    const next = await service.publishTariffVersion(homeMetered({ id: 'pub-a', firstTierPrice: '2.20' }), '2026-04-01T00:00:00+03:00');
    expect(next).toMatchObject({ version: 2, created: true });
    expect(next.tariff.usageCharges[0].pricing).toEqual({ kind: 'graduated', tiers: [{ upTo: '40', unitPrice: '2.20' }, { upTo: null, unitPrice: '1.50' }] });
    const { rows } = await harness.pool.query("SELECT version, effective_from, currency, body->>'version' AS body_version FROM tariff_versions WHERE tariff_id = 'pub-a' ORDER BY version");
    expect(rows).toEqual([
      { version: 1, effective_from: new Date('2024-12-31T21:00:00Z'), currency: 'RUB', body_version: '1' },
      { version: 2, effective_from: new Date('2026-03-31T21:00:00Z'), currency: 'RUB', body_version: '2' },
    ]);
  });

  it('keeps add-ons to recurring services: no usage charges, and never a plan', async () => {
    const service = harness.service();
    await expect(service.publishTariffVersion({ ...homeMetered({ id: 'addon-usage', version: 1 }) }, PLAN_V1_EFFECTIVE, { kind: 'addon' })).rejects.toMatchObject({
      code: 'catalog',
    });
    await service.publishTariffVersion(router('addon-r'), PLAN_V1_EFFECTIVE, { kind: 'addon' });
    const subscriberId = await createSubscriber(harness.pool, 'kinds');
    await expect(service.subscribe({ subscriberId, tariffId: 'addon-r', activatedAt: ACTIVATED_AT })).rejects.toMatchObject({ code: 'catalog' });
  });
});

describe('a tariff version used by an invoice never changes', () => {
  it('is protected by a trigger against UPDATE and DELETE, while unused versions stay editable', async () => {
    const service = harness.service();
    const subscriberId = await seedSubscriber(harness, { prefix: 'immutable', planId: 'imm-plan' });
    await service.publishTariffVersion(homeMetered({ id: 'imm-plan', version: 2, firstTierPrice: '3.00' }), '2027-01-01T00:00:00+03:00');
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB }]);
    await service.closePeriod(subscriberId, '2026-03');

    const { rows } = await harness.pool.query('SELECT tariff_id, version FROM invoice_tariff_versions WHERE invoice_id = $1', [`INV-${subscriberId}-2026-03`]);
    expect(rows).toEqual([{ tariff_id: 'imm-plan', version: 1 }]);

    const update = harness.pool.query(`UPDATE tariff_versions SET body = jsonb_set(body, '{name}', '"Renamed"') WHERE tariff_id = 'imm-plan' AND version = 1`);
    await expect(update).rejects.toMatchObject({ code: '23001', message: expect.stringMatching(/tariff imm-plan version 1 is used by an invoice and never changes/) });
    await expect(harness.pool.query(`DELETE FROM tariff_versions WHERE tariff_id = 'imm-plan' AND version = 1`)).rejects.toMatchObject({ code: '23001' });
    await expect(harness.pool.query(`UPDATE tariff_versions SET effective_from = now() WHERE tariff_id = 'imm-plan' AND version = 1`)).rejects.toMatchObject({ code: '23001' });

    // Version 2 is not used by any invoice yet: an operator may still fix it in place.
    const fixed = await harness.pool.query(`UPDATE tariff_versions SET effective_from = '2027-02-01T00:00:00+03:00' WHERE tariff_id = 'imm-plan' AND version = 2`);
    expect(fixed.rowCount).toBe(1);
  });
});

describe('subscriptions', () => {
  it('are idempotent per subscriber, and record plan changes, add-ons, overrides and promo codes as given', async () => {
    const service = harness.service();
    await service.publishTariffVersion(homeMetered({ id: 'sub-plan', version: 1 }), PLAN_V1_EFFECTIVE);
    await service.publishTariffVersion({ ...homeMetered({ id: 'sub-lite', version: 1 }), recurringFees: [{ id: 'internet', name: 'Lite', price: '300' }] }, PLAN_V1_EFFECTIVE);
    await service.publishTariffVersion(router('sub-router'), PLAN_V1_EFFECTIVE, { kind: 'addon' });
    const subscriberId = await createSubscriber(harness.pool, 'subs', 'Europe/Berlin');

    await expect(service.subscribe({ subscriberId: 'nobody', tariffId: 'sub-plan', activatedAt: ACTIVATED_AT })).rejects.toMatchObject({ code: 'not-found' });
    const subscribed = await service.subscribe({ subscriberId, tariffId: 'sub-plan', activatedAt: ACTIVATED_AT, billingCycle: { kind: 'anniversary', anchorDay: 31 } });
    expect(await service.subscribe({ subscriberId, tariffId: 'sub-plan', activatedAt: ACTIVATED_AT, billingCycle: { kind: 'anniversary', anchorDay: 31 } })).toEqual(subscribed);
    await expect(service.subscribe({ subscriberId, tariffId: 'sub-lite', activatedAt: ACTIVATED_AT })).rejects.toMatchObject({ code: 'conflict' });
    expect(subscribed).toMatchObject({ timeZone: 'Europe/Berlin', billingCycle: { kind: 'anniversary', anchorDay: 31 }, tariffId: 'sub-plan' });

    await service.changePlan({ subscriberId, tariffId: 'sub-lite', requestedAt: '2026-03-10T09:00:00+01:00' });
    await service.changePlan({ subscriberId, tariffId: 'sub-lite', requestedAt: '2026-03-10T09:00:00+01:00' });
    await expect(service.changePlan({ subscriberId, tariffId: 'sub-lite', requestedAt: '2026-03-10T09:00:00+01:00', effective: 'immediate' })).rejects.toMatchObject({
      code: 'conflict',
    });
    await service.addAddOn({ subscriberId, addOnId: 'router', tariffId: 'sub-router', activeFrom: ACTIVATED_AT });
    await expect(service.addAddOn({ subscriberId, addOnId: 'router', tariffId: 'sub-plan', activeFrom: ACTIVATED_AT })).rejects.toMatchObject({ code: 'catalog' });
    await service.endAddOn(subscriberId, 'router', '2026-06-01T00:00:00+02:00');
    await service.setOverride({ subscriberId, tariffId: 'sub-plan', target: 'recurring-fee', chargeId: 'internet', price: '450', fromPeriod: '2026-03' });
    await expect(service.setOverride({ subscriberId, tariffId: 'sub-plan', target: 'recurring-fee', chargeId: 'internet', includedUnits: '5', fromPeriod: '2026-03' })).rejects.toBeInstanceOf(
      BillingError,
    );
    await service.publishPromotion({
      code: 'SPRING26',
      name: 'Spring: 10% off the fee',
      discount: { kind: 'percent', percent: '10', appliesTo: ['recurring'], periods: 2 },
      tariffIds: ['sub-plan'],
      validFrom: '2026-03-01T00:00:00Z',
      validTo: '2026-06-01T00:00:00Z',
    });
    await expect(service.applyPromoCode(subscriberId, 'SPRING26', '2026-07-01T00:00:00Z')).rejects.toMatchObject({ code: 'catalog' });
    const record = await service.applyPromoCode(subscriberId, 'SPRING26', '2026-03-02T10:00:00+01:00');

    expect(record).toMatchObject({
      planChanges: [{ requestedAt: Date.parse('2026-03-10T09:00:00+01:00'), tariffId: 'sub-lite', effective: null }],
      addOns: [{ addOnId: 'router', tariffId: 'sub-router', activeFrom: Date.parse(ACTIVATED_AT), activeTo: Date.parse('2026-06-01T00:00:00+02:00') }],
      overrides: [{ tariffId: 'sub-plan', target: 'recurring-fee', chargeId: 'internet', price: '450', includedUnits: null, fromPeriod: '2026-03', toPeriod: null }],
      promotions: [{ code: 'SPRING26', discount: { kind: 'percent', percent: '10', appliesTo: ['recurring'], periods: 2 }, appliedAt: Date.parse('2026-03-02T10:00:00+01:00') }],
    });
  });
});

describe('individual terms and promotions on an invoice', () => {
  it('bills March at the individual price (450) and quota (20 GB), less the 10% promotion on the fee', async () => {
    const service = harness.service();
    const subscriberId = await seedSubscriber(harness, { prefix: 'terms', planId: 'terms-plan' });
    await service.setOverride({ subscriberId, tariffId: 'terms-plan', target: 'recurring-fee', chargeId: 'internet', price: '450', fromPeriod: '2026-03' });
    await service.setOverride({ subscriberId, tariffId: 'terms-plan', target: 'usage-charge', chargeId: 'internet', includedUnits: '20', fromPeriod: '2026-03', toPeriod: '2026-03' });
    await service.publishPromotion({
      code: 'TERMS10',
      name: '10% off the fee for two months',
      discount: { kind: 'percent', percent: '10', appliesTo: ['recurring'], periods: 2 },
      tariffIds: ['terms-plan'],
      validFrom: '2026-01-01T00:00:00Z',
    });
    await service.applyPromoCode(subscriberId, 'TERMS10', '2026-03-02T10:00:00+03:00');
    await insertUsage(harness.ch, subscriberId, [
      { at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB },
      { at: '2026-05-05T20:00:00+03:00', bytes: 25n * GB },
    ]);
    // 450 - 45.00 + (25 - 20) x 2.50 = 417.50; VAT 417.50 / 6 = 69.58.
    const march = await service.closePeriod(subscriberId, '2026-03');
    expect(march.lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '450.00'],
      ['plan:s0/usage/internet', '12.50'],
      ['plan:s0/discount/promo-TERMS10', '-45.00'],
    ]);
    expect(march.totals).toEqual({ net: '347.92', tax: '69.58', gross: '417.50' });
    // May: the quota override has ended (15 GB over x 2.50 = 37.50) and so has the promotion.
    const may = await service.closePeriod(subscriberId, '2026-05');
    expect(may.lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '450.00'],
      ['plan:s0/usage/internet', '37.50'],
    ]);
  });

  it('credits unused advance fees when the subscription ends mid-period', async () => {
    const service = harness.service();
    const subscriberId = await seedSubscriber(harness, { prefix: 'ends', planId: 'ends-plan', routerId: 'ends-router' });
    await service.terminate(subscriberId, '2026-03-16T00:00:00+03:00');
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB }]);
    // Served 15 of 31 days: the unused 16/31 of 500 (258.06) and of 100 (51.61) are credited;
    // the allowance shrinks to 10 x 15/31 = 4.84, rounded up to 5 GB: 20 x 2.50 = 50.00.
    const march = await service.closePeriod(subscriberId, '2026-03');
    expect(march.lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '500.00'],
      ['plan:s0/recurring-credit/internet', '-258.06'],
      ['plan:s0/usage/internet', '50.00'],
      ['addon:router:s0/recurring/router', '100.00'],
      ['addon:router:s0/recurring-credit/router', '-51.61'],
    ]);
    expect(march.totals.gross).toBe('340.33');
    await expect(service.closePeriod(subscriberId, '2026-04')).rejects.toMatchObject({ code: 'nothing-to-bill' });
  });
});
