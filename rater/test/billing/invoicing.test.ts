import { describe, expect, it } from 'vitest';
import { BillingService, type InvoiceRecord } from '../../src/billing/index.js';
import { GB, HOUR_MS, createSubscriber, insertUsage, invoiceRows, seedSubscriber, withBillingStores } from './support/billing-harness.js';
import { ACTIVATED_AT, PLAN_V1_EFFECTIVE, homeMetered } from './support/tariffs.js';

/**
 * Closing, finalizing and accruing a period on real PostgreSQL and ClickHouse.
 * Worked example (Moscow, March 2026, RUB, VAT 20% included): 500 internet access,
 * 25 GB of internet traffic = 15 GB over the 10 included x 2.50 = 37.50, 3 GB of free
 * local traffic, 100 router rental: 637.50, of which VAT 83.33 + 6.25 + 16.67 = 106.25.
 */
const harness = withBillingStores();

const MARCH_END = Date.parse('2026-04-01T00:00:00+03:00');
const GRACE_MS = 48 * HOUR_MS;

async function marchSubscriber(prefix: string): Promise<string> {
  const subscriberId = await seedSubscriber(harness, { prefix, planId: 'inv-plan', routerId: 'inv-router' });
  await insertUsage(harness.ch, subscriberId, [
    { at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB },
    { at: '2026-03-10T10:00:00+03:00', bytes: 3n * GB, trafficClass: 'local', direction: 'upload' },
    // Last minute of February and first minute of April: other periods.
    { at: '2026-02-28T23:59:00+03:00', bytes: 99n * GB },
    { at: '2026-04-01T00:00:00+03:00', bytes: 99n * GB },
  ]);
  return subscriberId;
}

const lines = (invoice: InvoiceRecord) => invoice.lines.map((line) => [line.key, line.amount, line.tax, line.net, line.gross]);

const MARCH_LINES = [
  ['plan:s0/recurring/internet', '500.00', '83.33', '416.67', '500.00'],
  ['plan:s0/usage/internet', '37.50', '6.25', '31.25', '37.50'],
  ['plan:s0/usage/local', '0.00', '0.00', '0.00', '0.00'],
  ['addon:router:s0/recurring/router', '100.00', '16.67', '83.33', '100.00'],
];

describe('closePeriod', () => {
  it('writes the draft invoice with the rater’s lines, tier breakdown and VAT, exact to the kopeck', async () => {
    const subscriberId = await marchSubscriber('close');
    const invoice = await harness.service().closePeriod(subscriberId, '2026-03');
    expect(invoice).toMatchObject({ id: `INV-${subscriberId}-2026-03`, status: 'draft', kind: 'invoice', revision: 0, currency: 'RUB', timeZone: 'Europe/Moscow' });
    expect(invoice.periodStart).toEqual(new Date('2026-02-28T21:00:00Z'));
    expect(invoice.periodEnd).toEqual(new Date('2026-03-31T21:00:00Z'));
    expect(lines(invoice)).toEqual(MARCH_LINES);
    expect(invoice.totals).toEqual({ net: '531.25', tax: '106.25', gross: '637.50' });
    expect(invoice.taxes).toEqual([{ name: 'VAT', ratePercent: '20', inclusion: 'inclusive', net: '531.25', tax: '106.25', gross: '637.50' }]);
    const usage = invoice.lines[1];
    expect(usage).toMatchObject({ quantity: '15', unit: 'GB', unitPrice: '2.5', trafficClass: 'internet', direction: 'both', referencePeriodKey: '2026-03', adjustmentId: null });
    expect(usage.usage).toMatchObject({ bytes: '25000000000', measuredUnits: '25', includedUnits: '10', billableUnits: '15' });
    expect(usage.tiers).toEqual([{ tierIndex: 0, fromUnits: '0', toUnits: '40', units: '15', unitPrice: '2.5', exactAmount: '37.5', amount: '37.50' }]);
    expect(invoice.lines[2].usage).toMatchObject({ bytes: '3000000000', measuredUnits: '3' });
    expect(invoice.lines[0].coversStart).toBe(Date.parse('2026-03-01T00:00:00+03:00'));

    // Money is numeric in PostgreSQL and comes back as the exact decimal text.
    const { rows } = await harness.pool.query('SELECT total_gross, pg_typeof(total_gross)::text AS type FROM invoices WHERE id = $1', [invoice.id]);
    expect(rows).toEqual([{ total_gross: '637.50', type: 'numeric' }]);
  });

  it('gives the same invoice, same id and same lines, when run twice', async () => {
    const subscriberId = await marchSubscriber('twice');
    const service = harness.service();
    const first = await service.closePeriod(subscriberId, '2026-03');
    const stored = await invoiceRows(harness.pool, first.id);
    const second = await service.closePeriod(subscriberId, '2026-03');
    expect(second).toEqual(first);
    expect(await invoiceRows(harness.pool, first.id)).toEqual(stored);
  });

  it('yields exactly one invoice when two closes run in parallel', async () => {
    const subscriberId = await marchSubscriber('parallel');
    const [a, b] = await Promise.all([harness.service().closePeriod(subscriberId, '2026-03'), harness.service().closePeriod(subscriberId, '2026-03')]);
    expect(a).toEqual(b);
    const { rows } = await harness.pool.query('SELECT id FROM invoices WHERE subscriber_id = $1', [subscriberId]);
    expect(rows).toEqual([{ id: `INV-${subscriberId}-2026-03` }]);
  });

  it('is backed by the database: a second invoice for the same subscriber and period is a unique violation', async () => {
    const subscriberId = await marchSubscriber('unique');
    const invoice = await harness.service().closePeriod(subscriberId, '2026-03');
    const duplicate = harness.pool.query(
      `INSERT INTO invoices (id, subscriber_id, period_key, kind, revision, period_start, period_end, time_zone, currency,
         total_net, total_tax, total_gross, taxes, events, unrated_usage, rating_basis, basis_fingerprint)
       SELECT 'INV-other', subscriber_id, period_key, kind, revision, period_start, period_end, time_zone, currency,
         total_net, total_tax, total_gross, taxes, events, unrated_usage, rating_basis, basis_fingerprint
       FROM invoices WHERE id = $1`,
      [invoice.id],
    );
    await expect(duplicate).rejects.toMatchObject({ code: '23505', constraint: 'invoices_one_per_period' });
  });

  it('refuses a period without subscription and without anything carried over to it', async () => {
    const subscriberId = await createSubscriber(harness.pool, 'none');
    await expect(harness.service().closePeriod(subscriberId, '2026-03')).rejects.toMatchObject({ code: 'not-found' });
    const later = await seedSubscriber(harness, { prefix: 'before', planId: 'inv-plan' });
    await expect(harness.service().closePeriod(later, '2025-10')).rejects.toMatchObject({ code: 'nothing-to-bill' });
  });
});

describe('finalize', () => {
  it('refuses before the period end plus the grace period, and changes nothing', async () => {
    const subscriberId = await marchSubscriber('early');
    const service = harness.service();
    const draft = await service.closePeriod(subscriberId, '2026-03');
    const before = await invoiceRows(harness.pool, draft.id);
    const early = service.finalize(subscriberId, '2026-03', new Date(MARCH_END + GRACE_MS - 1), GRACE_MS);
    await expect(early).rejects.toMatchObject({ code: 'too-early', message: expect.stringMatching(/can be finalized from 2026-04-02T21:00:00.000Z/) });
    expect(await invoiceRows(harness.pool, draft.id)).toEqual(before);
    const { rows } = await harness.pool.query('SELECT count(*)::int AS n FROM usage_watermarks WHERE subscriber_id = $1', [subscriberId]);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('takes in usage that arrived during the grace period, freezes the invoice and records the watermark; again is a no-op', async () => {
    const subscriberId = await marchSubscriber('final');
    const service = harness.service();
    await service.closePeriod(subscriberId, '2026-03');
    // Within the grace period: 1 GB more for March (16 GB over the allowance: 40.00, VAT 6.67).
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-31T23:00:00+03:00', bytes: 1n * GB }]);
    const now = new Date(MARCH_END + GRACE_MS);
    const invoice = await service.finalize(subscriberId, '2026-03', now, GRACE_MS);
    expect(invoice).toMatchObject({ status: 'finalized', finalizedAt: now });
    expect(invoice.lines[1]).toMatchObject({ key: 'plan:s0/usage/internet', quantity: '16', amount: '40.00', tax: '6.67' });
    expect(invoice.totals).toEqual({ net: '533.33', tax: '106.67', gross: '640.00' });

    const { rows } = await harness.pool.query('SELECT revision, source, document_id, usage_totals, bucket_count, usage_rows FROM usage_watermarks WHERE subscriber_id = $1', [subscriberId]);
    expect(rows).toEqual([
      {
        revision: 1,
        source: 'finalize',
        document_id: invoice.id,
        usage_totals: [
          { class: 'internet', direction: 'download', bytes: '26000000000' },
          { class: 'local', direction: 'upload', bytes: '3000000000' },
        ],
        bucket_count: 3,
        usage_rows: '3',
      },
    ]);

    const frozen = await invoiceRows(harness.pool, invoice.id);
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-20T10:00:00+03:00', bytes: 5n * GB }]);
    expect(await service.finalize(subscriberId, '2026-03', new Date(now.getTime() + 10 * HOUR_MS), GRACE_MS)).toEqual(invoice);
    expect(await service.closePeriod(subscriberId, '2026-03')).toEqual(invoice);
    expect(await invoiceRows(harness.pool, invoice.id)).toEqual(frozen);
  });

  it('finalizes once when two finalizations run at once', async () => {
    const subscriberId = await marchSubscriber('final-twice');
    const now = new Date(MARCH_END + GRACE_MS);
    const [a, b] = await Promise.all([harness.service().finalize(subscriberId, '2026-03', now, GRACE_MS), harness.service().finalize(subscriberId, '2026-03', now, GRACE_MS)]);
    expect(a).toEqual(b);
    const { rows } = await harness.pool.query('SELECT revision FROM usage_watermarks WHERE subscriber_id = $1', [subscriberId]);
    expect(rows).toEqual([{ revision: 1 }]);
  });

  it('is never edited afterwards, whoever writes: the triggers refuse it', async () => {
    const subscriberId = await marchSubscriber('frozen');
    const invoice = await harness.service().finalize(subscriberId, '2026-03', new Date(MARCH_END + GRACE_MS), GRACE_MS);
    const refused = { code: '23001' };
    await expect(harness.pool.query(`UPDATE invoices SET total_gross = total_gross + 1, total_net = total_net + 1 WHERE id = $1`, [invoice.id])).rejects.toMatchObject(refused);
    await expect(harness.pool.query(`UPDATE invoices SET status = 'draft', finalized_at = NULL WHERE id = $1`, [invoice.id])).rejects.toMatchObject(refused);
    await expect(harness.pool.query(`DELETE FROM invoice_lines WHERE invoice_id = $1`, [invoice.id])).rejects.toMatchObject(refused);
    await expect(harness.pool.query(`UPDATE invoice_lines SET description = 'x' WHERE invoice_id = $1`, [invoice.id])).rejects.toMatchObject(refused);
    await expect(harness.pool.query(`DELETE FROM usage_watermarks WHERE subscriber_id = $1`, [subscriberId])).rejects.toMatchObject(refused);
    await expect(harness.pool.query(`DELETE FROM invoice_tariff_versions WHERE invoice_id = $1`, [invoice.id])).rejects.toMatchObject(refused);
  });
});

describe('accrue', () => {
  it('shows the running cost of the open period and never goes back to an older snapshot', async () => {
    const subscriberId = await seedSubscriber(harness, { prefix: 'accrue', planId: 'inv-plan', routerId: 'inv-router' });
    await insertUsage(harness.ch, subscriberId, [
      { at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB },
      { at: '2026-03-20T10:00:00+03:00', bytes: 10n * GB },
      { at: '2026-03-20T10:30:00+03:00', bytes: 1n * GB },
    ]);
    const service = harness.service();
    // On the 10th: 25 GB so far -> 637.50 (fees are the period's, as they will be billed).
    const early = await service.accrue(subscriberId, '2026-03', new Date('2026-03-10T00:00:00+03:00'));
    expect(early).toMatchObject({ currency: 'RUB', totals: { net: '531.25', tax: '106.25', gross: '637.50' } });
    expect(early.usageUntil).toEqual(new Date('2026-03-10T00:00:00+03:00'));

    // At 10:30:45 on the 20th: the 10:30 minute is still open, 35 GB -> 25 over x 2.50 = 62.50.
    const asOf = new Date('2026-03-20T10:30:45+03:00');
    const later = await service.accrue(subscriberId, '2026-03', asOf);
    expect(later.usageUntil).toEqual(new Date('2026-03-20T10:30:00+03:00'));
    expect(later.lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '500.00'],
      ['plan:s0/usage/internet', '62.50'],
      ['addon:router:s0/recurring/router', '100.00'],
    ]);
    expect(later.totals).toEqual({ net: '552.08', tax: '110.42', gross: '662.50' });

    // A slower job finishing late with an older instant does not replace the newer snapshot.
    await service.accrue(subscriberId, '2026-03', new Date('2026-03-10T00:00:00+03:00'));
    expect(await service.getAccrual(subscriberId, '2026-03')).toMatchObject({ asOf, totals: later.totals });
    expect(await service.accrue(subscriberId, '2026-03', asOf)).toMatchObject({ asOf, totals: later.totals, lines: later.lines });
  });
});

describe('usage at the edges of a period in a half-hour zone', () => {
  it('bills the half hours inside a Kolkata month from usage_1m and nothing outside it', async () => {
    const service = harness.service();
    await service.publishTariffVersion(homeMetered({ id: 'inv-plan', version: 1 }), PLAN_V1_EFFECTIVE);
    const subscriberId = await createSubscriber(harness.pool, 'kolkata', 'Asia/Kolkata');
    await service.subscribe({ subscriberId, tariffId: 'inv-plan', activatedAt: ACTIVATED_AT });
    await insertUsage(harness.ch, subscriberId, [
      { at: '2026-02-28T18:10:00Z', bytes: 100n * GB }, // 23:40 on 28 Feb local: February
      { at: '2026-02-28T18:40:00Z', bytes: 11n * GB }, // 00:10 on 1 March local
      { at: '2026-03-15T06:00:00Z', bytes: 2n * GB },
      { at: '2026-03-31T18:20:00Z', bytes: 3n * GB }, // 23:50 on 31 March local
      { at: '2026-03-31T18:45:00Z', bytes: 100n * GB }, // 00:15 on 1 April local
    ]);
    const input = await service.loadRatingInput(subscriberId, '2026-03');
    expect(input.basis.period).toEqual({ start: Date.parse('2026-02-28T18:30:00Z'), end: Date.parse('2026-03-31T18:30:00Z'), timeZone: 'Asia/Kolkata' });
    expect(input.usage.buckets.map((bucket) => [new Date(bucket.start).toISOString(), bucket.bytes])).toEqual([
      ['2026-02-28T18:40:00.000Z', 11n * GB],
      ['2026-03-15T06:00:00.000Z', 2n * GB],
      ['2026-03-31T18:20:00.000Z', 3n * GB],
    ]);
    expect(input.usage.totals).toEqual([{ class: 'internet', direction: 'download', bytes: '16000000000' }]);
    // 16 GB: 6 over the allowance x 2.50 = 15.00.
    const invoice = await service.closePeriod(subscriberId, '2026-03');
    expect(invoice.lines.map((line) => [line.key, line.amount])).toEqual([
      ['plan:s0/recurring/internet', '500.00'],
      ['plan:s0/usage/internet', '15.00'],
    ]);
  });
});

describe('the service on its own', () => {
  it('needs only a pool and a ClickHouse client', () => {
    expect(new BillingService({ pool: harness.pool, clickhouse: harness.ch })).toBeInstanceOf(BillingService);
  });
});
