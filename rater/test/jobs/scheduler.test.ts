/**
 * The scheduler against real stores: subscribers and subscriptions from PostgreSQL (the
 * billing service's catalog), jobs in Redis. A tick fans out page by page; a second tick
 * in the same slot adds nothing; the BullMQ job scheduler drives ticks.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { jobIdOf } from '../../src/jobs/job-types.js';
import { postgresSubscriberSource } from '../../src/jobs/postgres-subscribers.js';
import { RatingQueues } from '../../src/jobs/rating-queues.js';
import { runTick, startScheduler, TICK_SCHEDULER_ID } from '../../src/jobs/scheduler.js';
import { seedSubscriber, withBillingStores } from '../billing/support/billing-harness.js';
import { TEST_RETRY, eventually, withJobStack } from './support/job-stack.js';

const harness = withBillingStores();
const stack = withJobStack({ database: false });
const NOW = Date.parse('2026-04-02T10:07:00Z');
const MIN = 60_000;
const options = { accrualEveryMs: 15 * MIN, graceMs: 72 * 3_600_000, chunkSize: 2 };

async function seedMany(prefix: string, count: number, timeZone = 'Europe/Moscow'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await seedSubscriber(harness, { prefix, planId: `sched-plan-${prefix}`, timeZone }));
  return ids;
}

describe('scheduler', () => {
  it('a tick enqueues accruals and delayed closes for every subscriber, in pages; a repeated tick adds nothing', async () => {
    const moscow = await seedMany('sched-msk', 4);
    const [vladivostok] = await seedMany('sched-vvo', 1, 'Asia/Vladivostok');
    const [closed] = await seedMany('sched-gone', 1);
    await harness.pool.query(`UPDATE subscribers SET status = 'closed' WHERE id = $1`, [closed]);
    const source = postgresSubscriberSource(harness.pool, { endedWithinMs: 40 * 24 * 3_600_000, now: () => NOW });

    // Queues on this test's prefix whose clock is the tick's, so delays are measured from NOW.
    const queues = new RatingQueues({ connection: stack.connection, prefix: stack.prefix, retry: TEST_RETRY, now: () => NOW });
    onTestFinished(() => queues.close());
    const summary = await runTick(source, queues, NOW, options);
    const all = [...moscow, vladivostok];
    expect(summary).toEqual({ subscribers: 5, accruals: 5, closes: 10 });

    const accrue = stack.queues.queue('accrue');
    expect((await accrue.getWaiting()).map((job) => job.id).sort()).toEqual(all.map((id) => `accrue/${id}/2026-04/20260402T100000Z`).sort());
    const first = await accrue.getJob(`accrue/${moscow[0]}/2026-04/20260402T100000Z`);
    expect(first?.data).toEqual({ subscriberId: moscow[0], periodKey: '2026-04', asOf: '2026-04-02T10:00:00.000Z' });

    // April's close waits for the local end of April; March's (still within its grace period) runs now.
    const close = stack.queues.queue('close');
    const aprilClose = await close.getJob(jobIdOf('close', { subscriberId: vladivostok, periodKey: '2026-04' }));
    expect(await aprilClose?.getState()).toBe('delayed');
    // Local midnight of 1 May in Vladivostok (UTC+10).
    expect(aprilClose?.opts.delay).toBe(Date.parse('2026-04-30T14:00:00Z') - NOW);
    expect(await (await close.getJob(jobIdOf('close', { subscriberId: moscow[1], periodKey: '2026-03' })))?.getState()).toBe('waiting');
    expect(await close.getJob(jobIdOf('close', { subscriberId: closed, periodKey: '2026-03' }))).toBeUndefined();

    const counts = await Promise.all([accrue.getJobCounts('waiting'), close.getJobCounts('waiting', 'delayed')]);
    await runTick(source, queues, NOW + 5 * MIN, options);
    expect(await Promise.all([accrue.getJobCounts('waiting'), close.getJobCounts('waiting', 'delayed')])).toEqual(counts);
    // The next slot accrues again.
    await runTick(source, queues, NOW + 15 * MIN, options);
    expect((await accrue.getJobCounts('waiting')).waiting).toBe(10);
  });

  it('registers one repeatable tick (however many schedulers start) and runs it', async () => {
    await seedMany('sched-tick', 1);
    const source = postgresSubscriberSource(harness.pool, { endedWithinMs: 40 * 24 * 3_600_000 });
    const common = { connection: stack.connection, prefix: stack.prefix, queues: stack.queues, source, ...options, accrualEveryMs: 60 * MIN };
    const one = await startScheduler(common);
    const two = await startScheduler(common);
    try {
      expect((await one.queue.getJobSchedulers()).map((s) => s.key)).toEqual([TICK_SCHEDULER_ID]);
      // The first tick is due at once; its fan-out reaches the accrue queue.
      await eventually(async () => (await stack.queues.queue('accrue').getJobCounts('waiting')).waiting >= 1, 'tick fanned out');
      // The tick fans out while it runs and is marked completed only after: wait for that too.
      await eventually(async () => (await one.queue.getCompleted()).length >= 1, 'tick completed');
      const completed = await one.queue.getCompleted();
      expect(completed.length).toBeGreaterThanOrEqual(1);
      expect(completed[0].returnvalue).toMatchObject({ accruals: expect.any(Number) });
    } finally {
      await one.close();
      await two.close();
    }
  });
});
