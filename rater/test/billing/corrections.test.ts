import { describe, expect, it } from 'vitest';
import type { BillLine, InvoiceRecord } from '../../src/billing/index.js';
import { GB, HOUR_MS, ISSUED_AT, insertUsage, invoiceRows, seedSubscriber, withBillingStores } from './support/billing-harness.js';
import { PLAN_V1_EFFECTIVE, homeMetered } from './support/tariffs.js';

/**
 * Usage after finalization and re-rating after a tariff correction, worked in RUB with
 * VAT 20% included. Plan: 500/month, 10 GB included, 2.50 RUB/GB up to 40 GB, 1.50
 * beyond; router 100/month. March is invoiced at 25 GB: 500 + 37.50 + 100 = 637.50.
 */
const harness = withBillingStores();

const GRACE_MS = 48 * HOUR_MS;
const afterGrace = (periodEnd: string) => new Date(Date.parse(periodEnd) + GRACE_MS);
const MARCH_FINAL = afterGrace('2026-04-01T00:00:00+03:00');
const APRIL_FINAL = afterGrace('2026-05-01T00:00:00+03:00');

const amounts = (lines: readonly BillLine[]) => lines.map((line) => [line.key, line.amount, line.tax, line.net]);

async function finalizedMarch(prefix: string, planId: string): Promise<{ subscriberId: string; march: InvoiceRecord }> {
  const subscriberId = await seedSubscriber(harness, { prefix, planId, routerId: `${planId}-router` });
  await insertUsage(harness.ch, subscriberId, [
    { at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB },
    { at: '2026-04-10T20:00:00+03:00', bytes: 5n * GB },
  ]);
  const march = await harness.service().finalize(subscriberId, '2026-03', MARCH_FINAL, GRACE_MS);
  expect(march.totals).toEqual({ net: '531.25', tax: '106.25', gross: '637.50' });
  return { subscriberId, march };
}

describe('late usage after finalization', () => {
  it('is billed as adjustment lines on the next open invoice, referencing its period, with exact amounts; the finalized invoice stays as it was', async () => {
    const { subscriberId, march } = await finalizedMarch('late', 'late-plan');
    const service = harness.service();
    const frozen = await invoiceRows(harness.pool, march.id);

    // 3 GB of March arrive after finalization: 28 GB = 18 over the allowance x 2.50 = 45.00,
    // i.e. 7.50 more, of which VAT 1.25 (plan VAT 90.83 instead of 89.58).
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-20T10:00:00+03:00', bytes: 3n * GB }]);
    const late = await service.billLateUsage(subscriberId, '2026-03');
    expect(late).toMatchObject({ outcome: 'adjusted', periodKey: '2026-03', watermarkRevision: 2 });
    expect(late.adjustment).toMatchObject({ id: `ADJ-${subscriberId}-2026-03-2`, sourcePeriodKey: '2026-03', targetPeriodKey: '2026-04', totals: { net: '6.25', tax: '1.25', gross: '7.50' } });
    expect(amounts(late.adjustment!.lines)).toEqual([[`ADJ-${subscriberId}-2026-03-2:plan:s0/usage/internet`, '7.50', '1.25', '6.25']]);

    // Running it again finds nothing new.
    expect(await service.billLateUsage(subscriberId, '2026-03')).toMatchObject({ outcome: 'no-late-usage', watermarkRevision: 2, adjustment: null });

    // April: 500 + 0 (5 GB, within the allowance) + 100 + the March adjustment 7.50 = 607.50.
    const april = await service.closePeriod(subscriberId, '2026-04');
    expect(amounts(april.lines)).toEqual([
      ['plan:s0/recurring/internet', '500.00', '83.33', '416.67'],
      ['plan:s0/usage/internet', '0.00', '0.00', '0.00'],
      ['addon:router:s0/recurring/router', '100.00', '16.67', '83.33'],
      [`ADJ-${subscriberId}-2026-03-2:plan:s0/usage/internet`, '7.50', '1.25', '6.25'],
    ]);
    expect(april.lines[3]).toMatchObject({ referencePeriodKey: '2026-03', chargeKey: 'plan:s0/usage/internet', adjustmentId: `ADJ-${subscriberId}-2026-03-2`, quantity: '3' });
    expect(april.lines[3].description).toBe('Internet traffic over 10 GB (adjustment for 2026-03: usage received after its invoice)');
    expect(april.totals).toEqual({ net: '506.25', tax: '101.25', gross: '607.50' });
    expect(await service.closePeriod(subscriberId, '2026-04')).toEqual(april);

    // 27 GB more arrive: 55 GB crosses into the 1.50 tier: 40 x 2.50 + 5 x 1.50 = 107.50,
    // 62.50 more than the 45.00 billed; plan VAT 101.25, so the usage line's VAT goes
    // from 7.50 to 17.92: 10.42. Added to the open April draft at once.
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-25T12:00:00+03:00', bytes: 27n * GB }]);
    const second = await service.billLateUsage(subscriberId, '2026-03');
    expect(second.adjustment?.lines.map((line) => [line.amount, line.tax, line.net, line.quantity, line.tiers])).toEqual([
      [
        '62.50',
        '10.42',
        '52.08',
        '27',
        [
          { tierIndex: 0, fromUnits: '0', toUnits: '40', units: '22', unitPrice: '2.5', exactAmount: '55', amount: '55.00' },
          { tierIndex: 1, fromUnits: '40', toUnits: null, units: '5', unitPrice: '1.5', exactAmount: '7.5', amount: '7.50' },
        ],
      ],
    ]);
    const aprilNow = await service.getInvoice(april.id);
    expect(aprilNow?.totals).toEqual({ net: '558.33', tax: '111.67', gross: '670.00' });
    expect(aprilNow?.lines.map((line) => line.adjustmentId)).toEqual([null, null, null, `ADJ-${subscriberId}-2026-03-2`, `ADJ-${subscriberId}-2026-03-3`]);
    expect(await service.closePeriod(subscriberId, '2026-04')).toEqual(aprilNow);

    expect(await invoiceRows(harness.pool, march.id)).toEqual(frozen);
    const { rows } = await harness.pool.query('SELECT revision, source, usage_totals FROM usage_watermarks WHERE subscriber_id = $1 AND period_key = $2 ORDER BY revision', [
      subscriberId,
      '2026-03',
    ]);
    expect(rows.map((row) => [row.revision, row.source, row.usage_totals[0].bytes])).toEqual([
      [1, 'finalize', '25000000000'],
      [2, 'late-usage', '28000000000'],
      [3, 'late-usage', '55000000000'],
    ]);
  });

  it('is refused for a period that is not finalized, and when usage went down', async () => {
    const subscriberId = await seedSubscriber(harness, { prefix: 'late-refused', planId: 'late-plan' });
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB }]);
    const service = harness.service();
    await service.closePeriod(subscriberId, '2026-03');
    await expect(service.billLateUsage(subscriberId, '2026-03')).rejects.toMatchObject({ code: 'not-finalized' });
    await service.finalize(subscriberId, '2026-03', MARCH_FINAL, GRACE_MS);
    // An operator drops March from the rollup (DROP PARTITION is synchronous, unlike ALTER ... DELETE on 18.16).
    await harness.ch.command('ALTER TABLE usage_1h DROP PARTITION 202603');
    await expect(service.billLateUsage(subscriberId, '2026-03')).rejects.toMatchObject({ code: 'usage-decreased' });
  });
});

describe('re-rating a finalized period after a tariff correction', () => {
  it('issues a credit note for what was billed and the corrected charges; the finalized invoice is unchanged; pending adjustments are folded in', async () => {
    const { subscriberId, march } = await finalizedMarch('rerate', 'rr-plan');
    const service = harness.service();
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-20T10:00:00+03:00', bytes: 3n * GB }]);
    await service.billLateUsage(subscriberId, '2026-03');
    await service.closePeriod(subscriberId, '2026-04');
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-25T12:00:00+03:00', bytes: 27n * GB }]);
    await service.billLateUsage(subscriberId, '2026-03');
    const frozen = await invoiceRows(harness.pool, march.id);

    expect(await service.rerate(subscriberId, '2026-03', 'nothing changed')).toMatchObject({ outcome: 'unchanged', statement: { id: march.id } });

    // The 2.50 tier should have been 2.20: correction published as version 2 with the
    // effective date of version 1, so it replaces it wherever version 1 applied.
    await service.publishTariffVersion(homeMetered({ id: 'rr-plan', version: 2, firstTierPrice: '2.20' }), PLAN_V1_EFFECTIVE);
    const result = await service.rerate(subscriberId, '2026-03', 'tariff correction: 2.20 RUB/GB up to 40 GB');
    if (result.outcome !== 'corrected') throw new Error('expected a correction');
    const { creditNote, correction } = result;

    // Credit note: March's three lines, negated (the adjustments were still on the April
    // draft, so they are taken off it instead of being credited).
    expect(creditNote).toMatchObject({
      id: `CN-${subscriberId}-2026-03-1`,
      invoiceId: march.id,
      correctionId: `COR-${subscriberId}-2026-03-1`,
      reason: 'tariff correction: 2.20 RUB/GB up to 40 GB',
      issuedAt: ISSUED_AT,
      totals: { net: '-531.25', tax: '-106.25', gross: '-637.50' },
    });
    expect(creditNote.lines.map((entry) => [entry.creditedLineId, entry.line.amount, entry.line.tax, entry.line.net, entry.line.quantity])).toEqual([
      [`${march.id}/plan:s0/recurring/internet`, '-500.00', '-83.33', '-416.67', '-1'],
      [`${march.id}/plan:s0/usage/internet`, '-37.50', '-6.25', '-31.25', '-15'],
      [`${march.id}/addon:router:s0/recurring/router`, '-100.00', '-16.67', '-83.33', '-1'],
    ]);

    // Correction: all 55 GB on the corrected tariff: 40 x 2.20 + 5 x 1.50 = 95.50;
    // plan VAT 595.50 / 6 = 99.25 = 83.33 + 15.92; router 100 (16.67).
    expect(correction).toMatchObject({ id: `COR-${subscriberId}-2026-03-1`, kind: 'correction', revision: 1, status: 'finalized', correctsInvoiceId: march.id, finalizedAt: ISSUED_AT });
    expect(amounts(correction.lines)).toEqual([
      ['plan:s0/recurring/internet', '500.00', '83.33', '416.67'],
      ['plan:s0/usage/internet', '95.50', '15.92', '79.58'],
      ['addon:router:s0/recurring/router', '100.00', '16.67', '83.33'],
    ]);
    expect(correction.lines[1].tariff).toEqual({ id: 'rr-plan', version: 2 });
    expect(correction.totals).toEqual({ net: '579.58', tax: '115.92', gross: '695.50' });

    // The April draft no longer carries the superseded adjustments: 600.00.
    const april = await service.getInvoice(`INV-${subscriberId}-2026-04`);
    expect(april?.lines.map((line) => line.adjustmentId)).toEqual([null, null, null]);
    expect(april?.totals.gross).toBe('600.00');
    expect(await service.closePeriod(subscriberId, '2026-04')).toMatchObject({ totals: { gross: '600.00' } });

    // The finalized invoice, row by row, is what it was.
    expect(await invoiceRows(harness.pool, march.id)).toEqual(frozen);

    // Idempotent per terms: nothing more is issued, and no late usage is left to bill.
    expect(await service.rerate(subscriberId, '2026-03', 'tariff correction: 2.20 RUB/GB up to 40 GB')).toMatchObject({ outcome: 'unchanged', statement: { id: correction.id } });
    expect(await service.billLateUsage(subscriberId, '2026-03')).toMatchObject({ outcome: 'no-late-usage', watermarkRevision: 4 });
    const { rows } = await harness.pool.query(
      `SELECT (SELECT count(*)::int FROM credit_notes WHERE subscriber_id = $1) AS credit_notes,
              (SELECT count(*)::int FROM invoices WHERE subscriber_id = $1 AND kind = 'correction') AS corrections,
              (SELECT count(*)::int FROM late_usage_adjustments WHERE subscriber_id = $1 AND superseded_by = $2) AS superseded`,
      [subscriberId, correction.id],
    );
    expect(rows).toEqual([{ credit_notes: 1, corrections: 1, superseded: 2 }]);
  });

  it('credits adjustment lines already on a finalized invoice, and bills later usage on the corrected terms', async () => {
    const { subscriberId, march } = await finalizedMarch('rerate-final', 'rf-plan');
    const service = harness.service();
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-20T10:00:00+03:00', bytes: 3n * GB }]);
    await service.billLateUsage(subscriberId, '2026-03');
    const april = await service.finalize(subscriberId, '2026-04', APRIL_FINAL, GRACE_MS);
    expect(april.totals.gross).toBe('607.50');

    await service.publishTariffVersion(homeMetered({ id: 'rf-plan', version: 2, firstTierPrice: '2.20' }), PLAN_V1_EFFECTIVE);
    const result = await service.rerate(subscriberId, '2026-03', 'tariff correction');
    if (result.outcome !== 'corrected') throw new Error('expected a correction');
    // Credited: March's lines (637.50) and the 7.50 adjustment on the finalized April invoice.
    expect(result.creditNote.lines.map((entry) => [entry.creditedLineId, entry.line.gross])).toEqual([
      [`${march.id}/plan:s0/recurring/internet`, '-500.00'],
      [`${march.id}/plan:s0/usage/internet`, '-37.50'],
      [`${march.id}/addon:router:s0/recurring/router`, '-100.00'],
      [`${april.id}/ADJ-${subscriberId}-2026-03-2:plan:s0/usage/internet`, '-7.50'],
    ]);
    expect(result.creditNote.totals).toEqual({ net: '-537.50', tax: '-107.50', gross: '-645.00' });
    // 28 GB at 2.20: 18 x 2.20 = 39.60; plan VAT 539.60 / 6 = 89.93 = 83.33 + 6.60.
    expect(amounts(result.correction.lines)).toEqual([
      ['plan:s0/recurring/internet', '500.00', '83.33', '416.67'],
      ['plan:s0/usage/internet', '39.60', '6.60', '33.00'],
      ['addon:router:s0/recurring/router', '100.00', '16.67', '83.33'],
    ]);
    expect(result.correction.totals).toEqual({ net: '533.00', tax: '106.60', gross: '639.60' });

    // One more GB of March: rated on the corrected terms (19 x 2.20 = 41.80, +2.20, VAT
    // 90.30 = 83.33 + 6.97, so +0.37), billed on May because April is finalized.
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-30T08:00:00+03:00', bytes: 1n * GB }]);
    const late = await service.billLateUsage(subscriberId, '2026-03');
    expect(late.adjustment).toMatchObject({ targetPeriodKey: '2026-05', totals: { net: '1.83', tax: '0.37', gross: '2.20' } });
    expect(late.adjustment?.lines[0].tariff).toEqual({ id: 'rf-plan', version: 2 });
  });

  it('issues one correction when two re-ratings of the same terms run at once', async () => {
    const { subscriberId } = await finalizedMarch('rerate-twice', 'rt-plan');
    await harness.service().publishTariffVersion(homeMetered({ id: 'rt-plan', version: 2, firstTierPrice: '2.20' }), PLAN_V1_EFFECTIVE);
    const results = await Promise.all([
      harness.service().rerate(subscriberId, '2026-03', 'tariff correction'),
      harness.service().rerate(subscriberId, '2026-03', 'tariff correction'),
    ]);
    expect(results.map((result) => result.outcome).sort()).toEqual(['corrected', 'unchanged']);
    const { rows } = await harness.pool.query(`SELECT id FROM invoices WHERE subscriber_id = $1 AND kind = 'correction'`, [subscriberId]);
    expect(rows).toEqual([{ id: `COR-${subscriberId}-2026-03-1` }]);
    // 25 GB at 2.20: 15 x 2.20 = 33.00.
    const correction = results.find((result) => result.outcome === 'corrected');
    expect(correction?.outcome === 'corrected' && correction.correction.totals.gross).toBe('633.00');
  });

  it('is refused for a period without a finalized invoice', async () => {
    const subscriberId = await seedSubscriber(harness, { prefix: 'rerate-draft', planId: 'rr-plan' });
    await harness.service().closePeriod(subscriberId, '2026-03');
    await expect(harness.service().rerate(subscriberId, '2026-03', 'why not')).rejects.toMatchObject({ code: 'not-finalized' });
  });
});
