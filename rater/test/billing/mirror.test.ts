import { readFileSync } from 'node:fs';
import { ident, sql } from '@flowbill/shared/clickhouse/index';
import { splitStatements } from '@flowbill/shared/clickhouse/split-statements';
import { describe, expect, it } from 'vitest';
import { GB, HOUR_MS, insertUsage, seedSubscriber, withBillingStores } from './support/billing-harness.js';
import { PLAN_V1_EFFECTIVE, homeMetered } from './support/tariffs.js';

/**
 * The ClickHouse mirror and the README's analyst queries, on the worked example of
 * subscriber sub-42 (RUB, VAT 20% included):
 * - March: 500 + 25 GB (15 over the allowance x 2.50 = 37.50) + router 100 = 637.50;
 * - 3 GB of March arrive late: +7.50, billed on April (500 + 0 + 100 + 7.50 = 607.50);
 * - the tariff is corrected to 2.20 RUB/GB: a credit note cancels March's lines and the
 *   April adjustment (-645.00); the correction charges 500 + 18 x 2.20 + 100 = 639.60.
 */
const harness = withBillingStores();

const GRACE_MS = 48 * HOUR_MS;
const SUBSCRIBER = 'sub-42';

interface Scenario {
  march: string;
  april: string;
  correction: string;
  creditNote: string;
}

// PostgreSQL is per file, ClickHouse per test: the documents are made once, in whichever
// test comes first, and every test mirrors them into its own ClickHouse database.
let scenario: Promise<Scenario> | undefined;

function documents(): Promise<Scenario> {
  scenario ??= (async () => {
    const service = harness.service();
    await seedSubscriber(harness, { prefix: SUBSCRIBER, exactId: SUBSCRIBER, planId: 'home-metered', routerId: 'router' });
    await insertUsage(harness.ch, SUBSCRIBER, [
      { at: '2026-03-05T20:00:00+03:00', bytes: 25n * GB },
      { at: '2026-04-10T20:00:00+03:00', bytes: 5n * GB },
    ]);
    const march = await service.finalize(SUBSCRIBER, '2026-03', new Date(Date.parse('2026-04-01T00:00:00+03:00') + GRACE_MS), GRACE_MS);
    await insertUsage(harness.ch, SUBSCRIBER, [{ at: '2026-03-20T10:00:00+03:00', bytes: 3n * GB }]);
    await service.billLateUsage(SUBSCRIBER, '2026-03');
    const april = await service.finalize(SUBSCRIBER, '2026-04', new Date(Date.parse('2026-05-01T00:00:00+03:00') + GRACE_MS), GRACE_MS);
    await service.publishTariffVersion(homeMetered({ version: 2, firstTierPrice: '2.20' }), PLAN_V1_EFFECTIVE);
    const result = await service.rerate(SUBSCRIBER, '2026-03', 'tariff correction: 2.20 RUB/GB up to 40 GB');
    if (result.outcome !== 'corrected') throw new Error('expected a correction');
    return { march: march.id, april: april.id, correction: result.correction.id, creditNote: result.creditNote.id };
  })();
  return scenario;
}

async function mirrorAll(): Promise<Scenario> {
  const docs = await documents();
  const service = harness.service();
  for (const id of [docs.march, docs.april, docs.correction]) await service.mirrorInvoice(id);
  return docs;
}

const VIEWS = ['revenue_by_day', 'revenue_by_tariff', 'revenue_by_service', 'revenue_by_traffic_class'];

async function viewContents(): Promise<Record<string, unknown[]>> {
  const contents: Record<string, unknown[]> = {};
  for (const view of VIEWS) {
    // Money also as text: exact, whatever JSON does with numbers.
    contents[view] = await harness.ch.query(
      sql`SELECT *, toString(net) AS net_exact, toString(tax) AS tax_exact, toString(gross) AS gross_exact FROM ${ident(view)} ORDER BY tuple(*)`,
    );
  }
  return contents;
}

describe('mirrorInvoice', () => {
  it('writes invoice lines and credit notes (negative), and mirroring again leaves every revenue view unchanged', async () => {
    const docs = await documents();
    const service = harness.service();
    expect(await service.mirrorInvoice(docs.march)).toEqual({ invoiceId: docs.march, rows: 7, creditNoteIds: [docs.creditNote] });
    expect(await service.mirrorInvoice(docs.april)).toEqual({ invoiceId: docs.april, rows: 4, creditNoteIds: [] });
    expect(await service.mirrorInvoice(docs.correction)).toEqual({ invoiceId: docs.correction, rows: 7, creditNoteIds: [docs.creditNote] });
    const once = await viewContents();

    for (const id of [docs.march, docs.april, docs.correction, docs.march]) await service.mirrorInvoice(id);
    expect(await viewContents()).toEqual(once);
    const [stored] = await harness.ch.query<{ rows: string; lines: string }>('SELECT count() AS rows, uniqExact(line_id) AS lines FROM line_items');
    expect(stored.lines).toBe('14');
    expect(Number(stored.rows)).toBeGreaterThan(14);

    await harness.ch.command('OPTIMIZE TABLE line_items FINAL');
    expect(await harness.ch.query('SELECT count() AS rows FROM line_items')).toEqual([{ rows: '14' }]);
    expect(await viewContents()).toEqual(once);
  });

  it('keeps money exact: the decimal text from PostgreSQL and a Decimal64(4) made from it on the server', async () => {
    const docs = await mirrorAll();
    const rows = await harness.ch.query(
      `SELECT line_id, document_kind, net_text, toString(net) AS net_decimal, toTypeName(net) AS type, usage_bytes, toString(revenue_date) AS revenue_date
       FROM line_items FINAL WHERE charge_id = 'internet' AND line_kind = 'usage' AND period_key = '2026-03' ORDER BY line_id`,
    );
    const row = (line_id: string, document_kind: string, net_text: string, net_decimal: string, usage_bytes: string) => ({
      line_id,
      document_kind,
      net_text,
      net_decimal,
      type: 'Decimal(18, 4)',
      usage_bytes,
      revenue_date: '2026-03-31',
    });
    expect(rows).toEqual([
      row(`${docs.creditNote}/2`, 'credit-note', '-31.25', '-31.2500', '-25000000000'),
      // The credited adjustment (billed on April, a March charge).
      row(`${docs.creditNote}/4`, 'credit-note', '-6.25', '-6.2500', '-3000000000'),
      row(`${docs.correction}/plan:s0/usage/internet`, 'correction', '33.00', '33.0000', '28000000000'),
      row(`${docs.march}/plan:s0/usage/internet`, 'invoice', '31.25', '31.2500', '25000000000'),
    ]);
  });

  it('refuses drafts: their lines may still change', async () => {
    await documents();
    const draft = await harness.service().closePeriod(SUBSCRIBER, '2026-05');
    await expect(harness.service().mirrorInvoice(draft.id)).rejects.toMatchObject({ code: 'not-mirrorable' });
    await expect(harness.service().mirrorInvoice('INV-nobody-2026-03')).rejects.toMatchObject({ code: 'not-found' });
  });
});

const readme = readFileSync(new URL('../../src/billing/README.md', import.meta.url), 'utf8');
// One statement per block, named by its leading "-- name:" comment.
const queries = new Map(
  [...readme.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => [/^-- name: ([a-z-]+)/.exec(match[1])?.[1] ?? match[1], splitStatements(match[1]).join(';\n')]),
);

/** What each README query returns on the worked example. */
const EXPECTED: Record<string, (docs: Scenario) => unknown[]> = {
  'revenue-by-day': () => [
    { day: '2026-03-01', currency: 'RUB', net: '500.0000', tax: '100.0000', gross: '600.0000', lines: '6' },
    { day: '2026-03-31', currency: 'RUB', net: '33.0000', tax: '6.6000', gross: '39.6000', lines: '5' },
    { day: '2026-04-01', currency: 'RUB', net: '500.0000', tax: '100.0000', gross: '600.0000', lines: '2' },
    { day: '2026-04-30', currency: 'RUB', net: '0.0000', tax: '0.0000', gross: '0.0000', lines: '1' },
  ],
  'revenue-by-tariff': () => [
    { tariff_id: 'home-metered', tariff_version: 1, currency: 'RUB', gross: '0.0000', tax: '0.0000', lines: '6' },
    { tariff_id: 'home-metered', tariff_version: 2, currency: 'RUB', gross: '539.6000', tax: '89.9300', lines: '2' },
    { tariff_id: 'router', tariff_version: 1, currency: 'RUB', gross: '100.0000', tax: '16.6700', lines: '3' },
  ],
  'revenue-by-service': () => [
    { section: 'addon:router', line_kind: 'recurring', charge_id: 'router', currency: 'RUB', gross: '100.0000', lines: '3' },
    { section: 'plan', line_kind: 'recurring', charge_id: 'internet', currency: 'RUB', gross: '500.0000', lines: '3' },
    { section: 'plan', line_kind: 'usage', charge_id: 'internet', currency: 'RUB', gross: '39.6000', lines: '5' },
  ],
  'revenue-by-traffic-class': () => [
    { month: '2026-03-01', traffic_class: 'internet', direction: 'both', currency: 'RUB', bytes: '28000000000', gross: '39.6000' },
    { month: '2026-04-01', traffic_class: 'internet', direction: 'both', currency: 'RUB', bytes: '5000000000', gross: '0.0000' },
  ],
  'subscriber-period': (docs) => [
    ...[
      ['addon:router:s0/recurring/router', 'recurring', 'router', '100.0000'],
      ['plan:s0/recurring/internet', 'recurring', 'internet', '500.0000'],
      ['plan:s0/usage/internet', 'usage', 'internet', '37.5000'],
    ].map(([, line_kind, charge_id, gross]) => ({ document_date: '2026-04-03', document_kind: 'invoice', document_id: docs.march, period_key: '2026-03', line_kind, charge_id, gross })),
    { document_date: '2026-05-03', document_kind: 'invoice', document_id: docs.april, period_key: '2026-04', line_kind: 'usage', charge_id: 'internet', gross: '7.5000' },
    // The credit note's lines are numbered; the correction's are named like the invoice's.
    ...[
      ['recurring', 'internet', '-500.0000'],
      ['usage', 'internet', '-37.5000'],
      ['recurring', 'router', '-100.0000'],
      ['usage', 'internet', '-7.5000'],
    ].map(([line_kind, charge_id, gross]) => ({ document_date: '2026-05-20', document_kind: 'credit-note', document_id: docs.creditNote, period_key: '2026-03', line_kind, charge_id, gross })),
    ...[
      ['recurring', 'router', '100.0000'],
      ['recurring', 'internet', '500.0000'],
      ['usage', 'internet', '39.6000'],
    ].map(([line_kind, charge_id, gross]) => ({ document_date: '2026-05-20', document_kind: 'correction', document_id: docs.correction, period_key: '2026-03', line_kind, charge_id, gross })),
  ],
  'late-usage': () => [{ reference_period_key: '2026-03', billed_in: '2026-04', lines: '1', bytes: '3000000000', gross: '7.5000' }],
  corrections: () => [
    { month: '2026-05-01', document_kind: 'correction', documents: '1', gross: '639.6000' },
    { month: '2026-05-01', document_kind: 'credit-note', documents: '1', gross: '-645.0000' },
  ],
  'mirror-health': () => [{ rows: '14', lines: '14', documents: '4' }],
};

describe('README analyst queries', () => {
  it('are all there, and each has an expected result here', () => {
    expect([...queries.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED))('%s returns the worked example’s figures', async (name) => {
    const docs = await mirrorAll();
    await harness.ch.command('OPTIMIZE TABLE line_items FINAL');
    expect(await harness.ch.query(queries.get(name)!)).toEqual(EXPECTED[name](docs));
  });
});
