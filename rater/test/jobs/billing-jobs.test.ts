/**
 * The rating jobs end to end with the real billing service: real PostgreSQL (catalog,
 * invoices), real ClickHouse (usage in, line_items mirror out), real Redis (BullMQ).
 *
 * Worked example (rater/test/billing/support/tariffs.ts): 500 RUB/month plan, internet
 * per started GB with 10 GB included, then 2.50 RUB/GB; VAT 20% included. March 2026 with
 * 25 GB of internet: 500 + 15 × 2.50 = 537.50 RUB.
 */
import { randomBytes } from 'node:crypto';
import { withClickHouse } from '@flowbill/shared/testing/clickhouse';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listFailedJobs } from '../../src/jobs/admin.js';
import { billingHandlers } from '../../src/jobs/billing-handlers.js';
import type { JobData, JobKind } from '../../src/jobs/job-types.js';
import { jobIdOf } from '../../src/jobs/job-types.js';
import { GB, insertUsage, seedSubscriber, withBillingStores } from '../billing/support/billing-harness.js';
import { homeMetered, PLAN_V1_EFFECTIVE } from '../billing/support/tariffs.js';
import { billingState } from './support/billing-state.js';
import { createSignalDir, spawnWorker, type ChildWorker, type SignalDir } from './support/child-worker.js';
import { eventually, settled, withJobStack } from './support/job-stack.js';

const harness = withBillingStores();
/** Only for the server's URL (child processes connect to this test's ClickHouse database on it). */
const clickhouseServer = withClickHouse();
const stack = withJobStack({ database: false });
const GRACE_MS = 60_000;

let subscriberId: string;
let planId: string;

beforeEach(async () => {
  planId = `plan-${randomBytes(3).toString('hex')}`;
  subscriberId = await seedSubscriber(harness, { prefix: 'jobs', planId });
  await insertUsage(harness.ch, subscriberId, [
    { at: '2026-03-10T12:00:00+03:00', bytes: 20n * GB },
    { at: '2026-03-31T23:59:00+03:00', bytes: 5n * GB, direction: 'upload' },
    // April usage must not reach March's invoice.
    { at: '2026-04-01T00:00:00+03:00', bytes: 9n * GB },
  ]);
});

const startBillingWorkers = (lateUsageHours: number[] = [0]) =>
  stack.startWorkers(billingHandlers(harness.service(), { graceMs: GRACE_MS, lateUsageHours }), { concurrency: 2 });

const march = () => ({ subscriberId, periodKey: '2026-03' });

/** Add a job and wait for it to complete (it must). */
async function run<K extends JobKind>(kind: K, data: JobData[K]) {
  const { jobId } = await stack.queues.add(kind, data);
  const state = await settled(await stack.queues.queue(kind).getJob(jobId), `${jobId} settles`);
  const job = await stack.queues.queue(kind).getJob(jobId);
  if (state !== 'completed') throw new Error(`${jobId} ${state}: ${job?.failedReason}`);
  return job!;
}

/** Remove the completed job and add it again under the same id: the same work, run a second time. */
async function runAgain<K extends JobKind>(kind: K, data: JobData[K]) {
  await (await stack.queues.queue(kind).getJob(jobIdOf(kind, data)))?.remove();
  return run(kind, data);
}

/** Until no queue has waiting, active or delayed jobs (the chain after a job has run out). */
async function idle(): Promise<void> {
  await eventually(async () => {
    for (const kind of ['accrue', 'close', 'finalize', 'lateUsage', 'rerate', 'mirror'] as const) {
      const counts = await stack.queues.queue(kind).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).some((n) => n > 0)) return false;
    }
    return true;
  }, 'queues idle');
}

const state = () => billingState(harness.pool, harness.ch, subscriberId);

async function invoiceTotals(id: string) {
  const { rows } = await harness.pool.query('SELECT status, total_gross::text AS gross FROM invoices WHERE id = $1', [id]);
  return rows[0];
}

describe('rating jobs with the billing service', () => {
  it('close chains finalize, the mirror and the late-usage check; every job type run twice leaves the same state', async () => {
    await startBillingWorkers();

    // accrue: the running cost as of 20 March (only the first 20 GB are before it).
    const accrued = await run('accrue', { ...march(), asOf: '2026-03-20T00:00:00.000Z' });
    expect(accrued.returnvalue).toMatchObject({ currency: 'RUB', totals: { gross: '525.00' } });
    let before = await state();
    await runAgain('accrue', { ...march(), asOf: '2026-03-20T00:00:00.000Z' });
    expect(await state()).toEqual(before);

    // close -> finalize (grace over long ago) -> mirror + late-usage check.
    const closed = await run('close', march());
    expect(closed.returnvalue).toMatchObject({ invoiceId: `INV-${subscriberId}-2026-03`, status: 'draft', totals: { gross: '537.50' } });
    await idle();
    const invoiceId = `INV-${subscriberId}-2026-03`;
    expect(await invoiceTotals(invoiceId)).toEqual({ status: 'finalized', gross: '537.50' });
    expect((await stack.queues.queue('finalize').getJob(jobIdOf('finalize', march())))?.returnvalue).toMatchObject({ status: 'finalized' });
    expect((await stack.queues.queue('mirror').getJob(`mirror/${invoiceId}`))?.returnvalue).toMatchObject({ rows: 2 });
    expect((await stack.queues.queue('lateUsage').getJob(jobIdOf('lateUsage', { ...march(), afterHours: 0 })))?.returnvalue).toMatchObject({ outcome: 'no-late-usage' });
    const afterClose = await state();
    expect(afterClose.mirror).toHaveLength(2);

    for (const [kind, data] of [
      ['close', march()],
      ['finalize', march()],
      ['mirror', { invoiceId }],
      ['lateUsage', { ...march(), afterHours: 0 }],
    ] as const) {
      await runAgain(kind, data as never);
      await idle();
      expect(await state(), `${kind} run twice`).toEqual(afterClose);
    }

    // Late usage: 5 GB more in March, after finalization -> an adjustment for April.
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-25T10:00:00+03:00', bytes: 5n * GB }]);
    const late = await run('lateUsage', { ...march(), afterHours: 24 });
    expect(late.returnvalue).toMatchObject({ outcome: 'adjusted', adjustmentId: expect.any(String) });
    before = await state();
    expect(before.adjustments).toHaveLength(1);
    expect(before.adjustments[0]).toMatchObject({ target_period_key: '2026-04', total_gross: '12.50' });
    const again = await runAgain('lateUsage', { ...march(), afterHours: 24 });
    expect(again.returnvalue).toMatchObject({ outcome: 'no-late-usage' });
    expect(await state()).toEqual(before);

    // Re-rating after a tariff correction (2.00 instead of 2.50 per GB): credit note + correction, mirrored.
    await harness.service().publishTariffVersion(homeMetered({ id: planId, version: 2, firstTierPrice: '2.00' }), PLAN_V1_EFFECTIVE);
    const rerate = { ...march(), reason: 'tariff corrected', requestId: 'ticket-1' };
    const corrected = await run('rerate', rerate);
    expect(corrected.returnvalue).toMatchObject({ outcome: 'corrected', correctionId: `COR-${subscriberId}-2026-03-1`, totals: { gross: '540.00' } });
    await idle();
    before = await state();
    expect(before.creditNotes).toHaveLength(1);
    expect(before.creditNotes[0]).toMatchObject({ invoice_id: invoiceId, total_gross: '-537.50' });
    expect((before.mirror as { document_kind: string }[]).map((row) => row.document_kind).sort()).toEqual([
      'correction',
      'correction',
      'credit-note',
      'credit-note',
      'invoice',
      'invoice',
    ]);
    const rerun = await runAgain('rerate', rerate);
    expect(rerun.returnvalue).toMatchObject({ outcome: 'unchanged' });
    await idle();
    expect(await state()).toEqual(before);
    expect(await listFailedJobs(stack.queues)).toEqual([]);
  });

  it('one invoice per subscription and period: duplicated and concurrent close jobs', async () => {
    await startBillingWorkers([]);
    await startBillingWorkers([]);
    const { jobId } = await stack.queues.add('close', march());
    await stack.queues.add('close', march());
    // The same work under another id (an old producer, a manual add) gets past BullMQ's
    // dedupe: the subscriber lock and invoices_one_per_period still allow one invoice.
    await stack.queues.queue('close').add('close', march(), { jobId: 'manual-close-1', removeOnFail: false });
    await stack.queues.queue('close').add('close', march(), { jobId: 'manual-close-2', removeOnFail: false });
    for (const id of [jobId, 'manual-close-1', 'manual-close-2']) expect(await settled(await stack.queues.queue('close').getJob(id))).toBe('completed');
    await idle();
    const { rows } = await harness.pool.query('SELECT id, kind, revision, status, total_gross::text AS gross FROM invoices WHERE subscriber_id = $1', [subscriberId]);
    expect(rows).toEqual([{ id: `INV-${subscriberId}-2026-03`, kind: 'invoice', revision: 0, status: 'finalized', gross: '537.50' }]);
    expect(await stack.queues.queue('close').getJobCounts('completed')).toEqual({ completed: 3 });
  });

  it('permanent refusals fail at once and stay visible with the service error', async () => {
    await startBillingWorkers();
    const { jobId } = await stack.queues.add('rerate', { ...march(), reason: 'complaint', requestId: 'c-7' });
    expect(await settled(await stack.queues.queue('rerate').getJob(jobId))).toBe('failed');
    const [failed] = await listFailedJobs(stack.queues);
    expect(failed).toMatchObject({ jobId, attemptsMade: 1, failedReason: expect.stringMatching(/^not-finalized: 2026-03 of jobs-[0-9a-f]+ has no finalized invoice/) });

    // No subscription in that period: an accrual has nothing to do, which is not a failure.
    const early = await run('accrue', { subscriberId, periodKey: '2025-06', asOf: '2025-06-10T00:00:00.000Z' });
    expect(early.returnvalue).toEqual({ skipped: 'nothing-to-bill' });
  });

  describe('a worker process killed with SIGKILL during close', () => {
    let signals: SignalDir;
    let children: ChildWorker[] = [];
    beforeEach(() => {
      signals = createSignalDir();
    });
    afterEach(async () => {
      await Promise.all(children.map((child) => child.kill9()));
      children = [];
      signals.remove();
    });

    const worker = async (pauseAt: string, kinds: string) => {
      const child = await spawnWorker(
        {
          REDIS_URL: stack.redisUrl,
          RATER_QUEUE_PREFIX: stack.prefix,
          DATABASE_URL: harness.pool.options.connectionString as string,
          CLICKHOUSE_URL: clickhouseServer.server.url,
          CLICKHOUSE_DATABASE: harness.ch.database,
          HANDLERS: 'billing',
          KINDS: kinds,
          PAUSE_AT: pauseAt,
          GRACE_MS: String(GRACE_MS),
          LATE_USAGE_HOURS: '0',
          LOCK_MS: '2000',
          STALLED_INTERVAL_MS: '300',
        },
        signals,
      );
      children.push(child);
      return child;
    };

    it.each(['commit', 'after-handler'])('(paused at %s) is finished by another worker: exactly one correct, finalized invoice', async (pauseAt) => {
      const first = await worker(pauseAt, 'close');
      const { jobId } = await stack.queues.add('close', march());
      await first.waitPaused(30_000);
      await first.kill9();

      await worker('none', 'close,finalize,mirror,lateUsage');
      expect(await settled(await stack.queues.queue('close').getJob(jobId), 'close completed by the second worker')).toBe('completed');
      await idle();
      const { rows } = await harness.pool.query('SELECT id, status, total_gross::text AS gross FROM invoices WHERE subscriber_id = $1', [subscriberId]);
      expect(rows).toEqual([{ id: `INV-${subscriberId}-2026-03`, status: 'finalized', gross: '537.50' }]);
      const lines = await harness.pool.query('SELECT line_key, gross::text AS gross FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no', [rows[0].id]);
      expect(lines.rows).toEqual([
        { line_key: expect.stringMatching(/recurring/), gross: '500.00' },
        { line_key: expect.stringMatching(/usage\/internet/), gross: '37.50' },
      ]);
      expect(await listFailedJobs(stack.queues)).toEqual([]);
    });
  });
});
