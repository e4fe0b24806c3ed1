/**
 * Billing read routes over documents written by the real billing service (real
 * PostgreSQL; usage in the stack's real ClickHouse), read through app.inject with an API
 * key. The app's clock (the stack's) stands at 2026-03-01T00:00Z, 03:00 in Moscow, so the
 * open period is March 2026.
 *
 * Story: 500 RUB/month plan, internet per started GB over 10 GB at 2.50 (then 1.50 over
 * 40), VAT 20% included. February: 25 GB -> 537.50, finalized. 5 GB arrive late -> a 12.50
 * adjustment on March's draft. Then the tariff is corrected to 2.00/GB and February is
 * re-rated: a credit note of -537.50 and a correction of 540.00.
 */
import { randomBytes } from 'node:crypto';
import { BillingService } from '@flowbill/rater/billing/index';
import { insertUsageBatch } from '@flowbill/shared/clickhouse/index';
import { beforeEach, describe, expect, it } from 'vitest';
import { withApiStack } from '../support/api-stack.js';

const stack = withApiStack();
const GB = 1_000_000_000n;
const SUB = 'sub-bill-1';
const INVOICE = `INV-${SUB}-2026-02`;
const CORRECTION = `COR-${SUB}-2026-02-1`;
const CREDIT_NOTE = `CN-${SUB}-2026-02-1`;
let key: string;
let service: BillingService;
let tariffId: string;

function tariff(version: number, firstTierPrice: string) {
  return {
    id: tariffId,
    version,
    name: 'Home metered',
    currency: 'RUB',
    recurringFees: [{ id: 'internet', name: 'Internet access 100 Mbit/s', price: '500' }],
    usageCharges: [
      {
        id: 'internet',
        name: 'Internet traffic over 10 GB',
        class: 'internet',
        direction: 'both',
        measure: { unit: 'GB', base: 'decimal', rounding: 'ceil' },
        includedUnits: '10',
        pricing: { kind: 'graduated', tiers: [{ upTo: '40', unitPrice: firstTierPrice }, { upTo: null, unitPrice: '1.50' }] },
      },
    ],
    tax: { name: 'VAT', ratePercent: '20', inclusion: 'inclusive' },
  };
}

async function usage(at: string, bytes: bigint) {
  await insertUsageBatch(stack.clickhouse.ch, `t-${randomBytes(4).toString('hex')}`, [
    { minute: Date.parse(at) / 1000, subscriberId: SUB, address: '192.0.2.10', direction: 'download', trafficClass: 'internet', bytes, packets: 1n, flows: 1n },
  ]);
}

type Stage = 'finalized' | 'late-usage' | 'rerated';

/** Drive the billing service through the story up to `stage`. */
async function billUpTo(stage: Stage) {
  await service.publishTariffVersion(tariff(1, '2.50'), '2025-01-01T00:00:00+03:00');
  await service.subscribe({ subscriberId: SUB, tariffId, activatedAt: '2025-11-03T12:00:00+03:00' });
  await usage('2026-02-10T09:00:00Z', 25n * GB);
  await service.closePeriod(SUB, '2026-02');
  await service.finalize(SUB, '2026-02', new Date('2026-03-05T00:00:00Z'), 72 * 3_600_000);
  if (stage === 'finalized') return;
  await usage('2026-02-20T09:00:00Z', 5n * GB);
  await service.billLateUsage(SUB, '2026-02');
  await service.accrue(SUB, '2026-03', new Date('2026-03-15T10:00:00Z'));
  await service.closePeriod(SUB, '2026-03');
  if (stage === 'late-usage') return;
  await service.publishTariffVersion(tariff(2, '2.00'), '2025-01-01T00:00:00+03:00');
  await service.rerate(SUB, '2026-02', 'tariff corrected');
}

beforeEach(async () => {
  key = await stack.createApiKey();
  await stack.createSubscriber(SUB);
  // Tariffs are not reached by the stack's TRUNCATE ... CASCADE: a fresh id per test.
  tariffId = `home-${randomBytes(3).toString('hex')}`;
  service = new BillingService({ pool: stack.pool, clickhouse: stack.clickhouse.ch, clock: () => new Date('2026-03-20T09:00:00Z') });
});

const get = (url: string) => stack.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

describe('GET /v1/subscribers/:id/charges/current', () => {
  it('shows the open period and its accrual, as the service stored it', async () => {
    await billUpTo('late-usage');
    const res = await get(`/v1/subscribers/${SUB}/charges/current`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.period).toEqual({ key: '2026-03', start: '2026-02-28T21:00:00.000Z', end: '2026-03-31T21:00:00.000Z', timeZone: 'Europe/Moscow' });
    const accrual = await service.getAccrual(SUB, '2026-03');
    expect(body.accrued).toMatchObject({ asOf: '2026-03-15T10:00:00.000Z', usageUntil: '2026-03-15T10:00:00.000Z', currency: 'RUB', totals: accrual?.totals });
    // March: the 500 fee, no usage yet, and February's late 5 GB (12.50) waiting for this period.
    expect(body.accrued.totals).toEqual({ net: '427.08', tax: '85.42', gross: '512.50' });
    expect(body.accrued.lines.map((line: { kind: string; gross: string; referencePeriodKey: string }) => [line.kind, line.gross, line.referencePeriodKey])).toEqual(
      accrual?.lines.map((line) => [line.kind, line.gross, line.referencePeriodKey]),
    );
    const adjustment = body.accrued.lines.find((line: { adjustmentId: string | null }) => line.adjustmentId !== null);
    expect(adjustment).toMatchObject({ referencePeriodKey: '2026-02', gross: '12.50', adjustment: { before: { gross: '37.50' }, after: { gross: '50.00' } } });
  });

  it('accrued is null before the first accrual; 404 without subscriber or subscription', async () => {
    expect((await get(`/v1/subscribers/${SUB}/charges/current`)).json()).toMatchObject({ statusCode: 404, message: `subscriber ${SUB} has no subscription` });
    expect((await get('/v1/subscribers/nobody/charges/current')).statusCode).toBe(404);
    await billUpTo('finalized');
    const res = await get(`/v1/subscribers/${SUB}/charges/current`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ subscriberId: SUB, period: { key: '2026-03' }, accrued: null });
  });
});

describe('invoices', () => {
  it('lists the documents, newest period first, with totals as decimal strings', async () => {
    await billUpTo('rerated');
    const res = await get(`/v1/subscribers/${SUB}/invoices`);
    expect(res.statusCode).toBe(200);
    const { invoices } = res.json();
    expect(invoices.map((i: Record<string, unknown>) => [i.id, i.kind, i.revision, i.status, (i.totals as { gross: string }).gross])).toEqual([
      [`INV-${SUB}-2026-03`, 'invoice', 0, 'draft', '500.00'],
      [INVOICE, 'invoice', 0, 'finalized', '537.50'],
      [CORRECTION, 'correction', 1, 'finalized', '540.00'],
    ]);
    expect(invoices[2]).toMatchObject({ correctsInvoiceId: INVOICE, reason: 'tariff corrected', finalizedAt: '2026-03-20T09:00:00.000Z' });
    expect(invoices[1].period).toEqual({ start: '2026-01-31T21:00:00.000Z', end: '2026-02-28T21:00:00.000Z', timeZone: 'Europe/Moscow' });

    const finalized = (await get(`/v1/subscribers/${SUB}/invoices?status=finalized&limit=1`)).json().invoices;
    expect(finalized.map((i: { id: string }) => i.id)).toEqual([INVOICE]);
  });

  it('one invoice with its lines, tier breakdown, taxes and credit notes; equal to what the service stored', async () => {
    await billUpTo('rerated');
    const res = await get(`/v1/invoices/${INVOICE}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const stored = await service.getInvoice(INVOICE);
    expect(body).toMatchObject({ id: INVOICE, status: 'finalized', currency: 'RUB', totals: stored?.totals, creditNoteIds: [CREDIT_NOTE] });
    expect(body.taxes).toEqual([{ name: 'VAT', ratePercent: '20', inclusion: 'inclusive', net: '447.92', tax: '89.58', gross: '537.50' }]);
    expect(body.tariffVersions).toEqual([{ id: tariffId, version: 1 }]);
    expect(body.lines).toHaveLength(stored?.lines.length ?? -1);
    const usageLine = body.lines.find((line: { kind: string }) => line.kind === 'usage');
    expect(usageLine).toMatchObject({
      lineNo: 2,
      trafficClass: 'internet',
      direction: 'both',
      quantity: '15',
      unit: 'GB',
      amount: '37.50',
      gross: '37.50',
      usage: { bytes: '25000000000', measuredUnits: '25', includedUnits: '10', billableUnits: '15' },
      tiers: [{ tierIndex: 0, fromUnits: '0', toUnits: '40', units: '15', unitPrice: '2.5', exactAmount: '37.5', amount: '37.50' }],
    });
    const storedUsage = stored?.lines.find((line) => line.kind === 'usage');
    expect(usageLine.tiers).toEqual(storedUsage?.tiers);
    expect(usageLine.covers).toEqual({ start: '2026-01-31T21:00:00.000Z', end: '2026-02-28T21:00:00.000Z' });
    expect(JSON.stringify(body)).not.toMatch(/"(amount|net|tax|gross)":\s*-?\d/); // money is never a JSON number

    expect((await get(`/v1/invoices/INV-${SUB}-1999-01`)).json()).toEqual({ statusCode: 404, error: 'Not Found', message: `invoice INV-${SUB}-1999-01 does not exist` });
    expect((await get('/v1/invoices/bad%20id')).statusCode).toBe(400);
  });

  it('credit notes of an invoice, lines negated; none for others; 404 for an unknown invoice', async () => {
    await billUpTo('rerated');
    const res = await get(`/v1/invoices/${INVOICE}/credit-notes`);
    expect(res.statusCode).toBe(200);
    const { creditNotes } = res.json();
    const stored = await service.getCreditNotes(INVOICE);
    expect(creditNotes).toHaveLength(1);
    expect(creditNotes[0]).toMatchObject({
      id: CREDIT_NOTE,
      invoiceId: INVOICE,
      correctionId: CORRECTION,
      revision: 1,
      reason: 'tariff corrected',
      totals: { net: '-447.92', tax: '-89.58', gross: '-537.50' },
      issuedAt: '2026-03-20T09:00:00.000Z',
    });
    expect(creditNotes[0].totals).toEqual(stored[0].totals);
    expect(creditNotes[0].lines.map((l: { kind: string; gross: string; creditedLineId: string }) => [l.kind, l.gross, l.creditedLineId])).toEqual(
      stored[0].lines.map((l) => [l.line.kind, l.line.gross, l.creditedLineId]),
    );
    const usage = creditNotes[0].lines.find((l: { kind: string }) => l.kind === 'usage');
    expect(usage).toMatchObject({ quantity: '-15', gross: '-37.50', tiers: [expect.objectContaining({ units: '-15', amount: '-37.50' })] });

    expect((await get(`/v1/invoices/${CORRECTION}/credit-notes`)).json()).toEqual({ invoiceId: CORRECTION, creditNotes: [] });
    expect((await get('/v1/invoices/INV-nobody-2026-02/credit-notes')).statusCode).toBe(404);
  });
});

describe('GET /v1/subscribers/:id/line-items', () => {
  it("lists every line of a period across documents: the invoice's, later adjustments, then the credit and the correction", async () => {
    await billUpTo('late-usage');
    let lines = (await get(`/v1/subscribers/${SUB}/line-items?period=2026-02`)).json().lines;
    expect(lines.map((l: Record<string, unknown>) => [l.invoiceId, l.invoiceStatus, l.kind, l.gross, l.creditedBy])).toEqual([
      [INVOICE, 'finalized', 'recurring', '500.00', null],
      [INVOICE, 'finalized', 'usage', '37.50', null],
      // February's late 5 GB, billed on March's draft.
      [`INV-${SUB}-2026-03`, 'draft', 'usage', '12.50', null],
    ]);
    expect(lines[2]).toMatchObject({ referencePeriodKey: '2026-02', adjustmentId: expect.any(String), tiers: expect.any(Array) });

    await service.publishTariffVersion(tariff(2, '2.00'), '2025-01-01T00:00:00+03:00');
    await service.rerate(SUB, '2026-02', 'tariff corrected');
    lines = (await get(`/v1/subscribers/${SUB}/line-items?period=2026-02`)).json().lines;
    // The correction states all of February's usage now; the waiting adjustment left March's draft.
    expect(lines.map((l: Record<string, unknown>) => [l.invoiceId, l.invoiceKind, l.kind, l.gross, l.creditedBy])).toEqual([
      [INVOICE, 'invoice', 'recurring', '500.00', CREDIT_NOTE],
      [INVOICE, 'invoice', 'usage', '37.50', CREDIT_NOTE],
      [CORRECTION, 'correction', 'recurring', '500.00', null],
      [CORRECTION, 'correction', 'usage', '40.00', null],
    ]);
    expect((await get(`/v1/subscribers/${SUB}/line-items?period=2025-01`)).json()).toEqual({ subscriberId: SUB, periodKey: '2025-01', lines: [] });
  });

  it('400 for a missing or bad period, 404 for an unknown subscriber', async () => {
    const missing = await get(`/v1/subscribers/${SUB}/line-items`);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().issues).toEqual([{ parameter: 'period', in: 'query', message: expect.any(String) }]);
    const bad = await get(`/v1/subscribers/${SUB}/line-items?period=2026-13`);
    expect(bad.json()).toMatchObject({ statusCode: 400, message: 'period must be a billing period key YYYY-MM (the month the period starts in)' });
    expect((await get('/v1/subscribers/nobody/line-items?period=2026-02')).json()).toMatchObject({ statusCode: 404, message: 'subscriber nobody does not exist' });
    expect((await get('/v1/subscribers/nobody/invoices')).statusCode).toBe(404);
  });
});

describe('access and documentation', () => {
  it('every billing route needs the API key', async () => {
    for (const url of [`/v1/subscribers/${SUB}/charges/current`, `/v1/subscribers/${SUB}/invoices`, `/v1/invoices/${INVOICE}`, `/v1/subscribers/${SUB}/line-items?period=2026-02`, `/v1/invoices/${INVOICE}/credit-notes`]) {
      const res = await stack.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
  });

  it('the OpenAPI document describes the routes with their zod schemas', async () => {
    const spec = (await get('/docs/json')).json();
    for (const path of ['/v1/subscribers/{id}/charges/current', '/v1/subscribers/{id}/invoices', '/v1/invoices/{invoiceId}', '/v1/subscribers/{id}/line-items', '/v1/invoices/{invoiceId}/credit-notes']) {
      expect(spec.paths[path]?.get, path).toBeDefined();
      expect(spec.paths[path].get.responses['404'], path).toBeDefined();
    }
    const invoice = spec.paths['/v1/invoices/{invoiceId}'].get.responses['200'].content['application/json'].schema;
    const text = JSON.stringify(invoice);
    expect(text).toContain('"tiers"');
    expect(text).toContain('exactAmount');
    expect(spec.paths['/v1/subscribers/{id}/line-items'].get.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'period', in: 'query', required: true })]));
  });
});
