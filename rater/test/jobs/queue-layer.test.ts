/**
 * The queue layer against real Redis and PostgreSQL, with handlers that write real
 * rows: a job runs, a duplicated job runs once, failures are retried with backoff and
 * then stay visible with their error, bad payloads fail at once, and a job that is not
 * due yet is put back, not failed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { listFailedJobs, retryFailedJob } from '../../src/jobs/admin.js';
import { jobIdOf } from '../../src/jobs/job-types.js';
import { eventually, settled, withJobStack } from './support/job-stack.js';
import { TOY_SCHEMA, recordRun, runsOf, tableHandlers } from './support/table-handlers.js';

const stack = withJobStack();

beforeEach(async () => {
  await stack.pool.query(TOY_SCHEMA);
  await stack.pool.query(`INSERT INTO toy_usage VALUES ('sub-1', '2026-03', 3000000000), ('sub-1', '2026-03', 1500000000), ('sub-1', '2026-04', 7)`);
});

async function invoices() {
  const { rows } = await stack.pool.query('SELECT subscriber_id, period_key, total::text FROM toy_invoices ORDER BY 1, 2');
  return rows;
}

describe('rating queues', () => {
  it('runs a job: the handler writes its row and the job completes with the handler result', async () => {
    await stack.startWorkers(tableHandlers(stack.pool));
    const { jobId } = await stack.queues.add('close', { subscriberId: 'sub-1', periodKey: '2026-03' });
    expect(jobId).toBe('close/sub-1/2026-03');
    const job = await stack.queues.queue('close').getJob(jobId);
    expect(await settled(job)).toBe('completed');
    // 4.5 GB at 12.50
    expect(await invoices()).toEqual([{ subscriber_id: 'sub-1', period_key: '2026-03', total: '56.25' }]);
    expect((await stack.queues.queue('close').getJob(jobId))?.returnvalue).toEqual({ total: '56.25', created: true });
  });

  it('a duplicated job (same id added twice, and again while it runs) runs once', async () => {
    // Both adds before any worker exists: the second must be absorbed by Redis, not by timing.
    const data = { subscriberId: 'sub-1', periodKey: '2026-03' };
    const first = await stack.queues.add('close', data);
    const second = await stack.queues.add('close', data);
    expect(second.jobId).toBe(first.jobId);
    expect(await stack.queues.queue('close').getJobCounts('waiting')).toEqual({ waiting: 1 });

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handlers = tableHandlers(stack.pool);
    await stack.startWorkers({
      ...handlers,
      close: async (jobData, context) => {
        await gate;
        return handlers.close(jobData, context);
      },
    });
    await eventually(async () => (await stack.queues.queue('close').getJobCounts('active')).active === 1, 'job active');
    await stack.queues.add('close', data); // while active
    release();
    expect(await settled(await stack.queues.queue('close').getJob(first.jobId))).toBe('completed');
    await stack.queues.add('close', data); // after completion, within retention
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await runsOf(stack.pool, first.jobId)).toBe(1);
    expect(await stack.queues.queue('close').getJobCounts('waiting', 'active', 'delayed', 'completed')).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 1 });
    expect(await invoices()).toHaveLength(1);
  });

  it('retries with exponential backoff, then keeps the failed job with its error; a retry from the CLI runs it again', async () => {
    let broken = true;
    const handlers = tableHandlers(stack.pool);
    await stack.startWorkers({
      ...handlers,
      close: async (data, context) => {
        if (!broken) return handlers.close(data, context);
        await recordRun(stack.pool, context.job.id, 'close');
        throw new Error(`no tariff for ${data.subscriberId} in ${data.periodKey}`);
      },
    });
    const started = Date.now();
    const { jobId } = await stack.queues.add('close', { subscriberId: 'sub-1', periodKey: '2026-03' });
    expect(await settled(await stack.queues.queue('close').getJob(jobId))).toBe('failed');
    // attempts 3, backoff 50 ms doubling: at least 50 + 100 ms between the runs.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await runsOf(stack.pool, jobId)).toBe(3);
    const { rows } = await stack.pool.query<{ gap: number }>(
      `SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY at)) * 1000 AS gap FROM toy_runs WHERE job_id = $1 ORDER BY at`,
      [jobId],
    );
    expect(Number(rows[1].gap)).toBeGreaterThanOrEqual(45);
    expect(Number(rows[2].gap)).toBeGreaterThanOrEqual(95);

    const failed = await listFailedJobs(stack.queues);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      kind: 'close',
      queue: 'rating-close',
      jobId: 'close/sub-1/2026-03',
      data: { subscriberId: 'sub-1', periodKey: '2026-03' },
      failedReason: 'no tariff for sub-1 in 2026-03',
      attemptsMade: 3,
      attempts: 3,
    });
    expect(failed[0].stack).toContain('no tariff for sub-1');
    expect(await invoices()).toEqual([]);

    // The failed job keeps its id: the scheduler re-adding the same work does not bypass it.
    await stack.queues.add('close', { subscriberId: 'sub-1', periodKey: '2026-03' });
    expect(await stack.queues.queue('close').getJobCounts('waiting', 'failed')).toEqual({ waiting: 0, failed: 1 });

    // Fixed: an operator retries it.
    broken = false;
    expect(await retryFailedJob(stack.queues, 'close', jobId)).toBe(true);
    expect(await settled(await stack.queues.queue('close').getJob(jobId), 'retried job completes')).toBe('completed');
    expect(await invoices()).toEqual([{ subscriber_id: 'sub-1', period_key: '2026-03', total: '56.25' }]);
    expect(await listFailedJobs(stack.queues)).toEqual([]);
    expect(await retryFailedJob(stack.queues, 'close', jobId)).toBe(false);
  });

  it('a malformed payload fails at once (no retries) and says what is wrong', async () => {
    await stack.startWorkers(tableHandlers(stack.pool));
    // Bypasses RatingQueues' own check, as an old or foreign producer would.
    await stack.queues.queue('close').add('close', { subscriberId: 'sub 1', periodKey: '2026-13' }, { jobId: 'close-bad', attempts: 5, removeOnFail: false });
    expect(await settled(await stack.queues.queue('close').getJob('close-bad'))).toBe('failed');
    const [failed] = await listFailedJobs(stack.queues, { kinds: ['close'] });
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/^invalid close job payload: subscriberId: .*; periodKey: periodKey must be YYYY-MM$/);
    expect(await runsOf(stack.pool, 'close-bad')).toBe(0);
  });

  it('RatingQueues refuses a bad payload before it reaches Redis', async () => {
    await expect(stack.queues.add('close', { subscriberId: 'a/b', periodKey: '2026-03' })).rejects.toThrow(/subscriberId/);
    await expect(stack.queues.add('rerate', { subscriberId: 'sub-1', periodKey: '2026-03', reason: ' ', requestId: 'x' })).rejects.toThrow(/reason/);
  });

  it('a job that is not due yet is delayed until its time, without using an attempt', async () => {
    const handlers = tableHandlers(stack.pool);
    const notBefore = Date.now() + 400;
    await stack.startWorkers({
      ...handlers,
      close: async (data, context) => {
        await recordRun(stack.pool, context.job.id, 'close');
        if (Date.now() < notBefore) return context.deferUntil(notBefore);
        return handlers.close(data, context);
      },
    });
    const { jobId } = await stack.queues.add('close', { subscriberId: 'sub-1', periodKey: '2026-03' });
    await eventually(async () => (await stack.queues.queue('close').getJobCounts('delayed')).delayed === 1, 'job deferred');
    const job = await stack.queues.queue('close').getJob(jobId);
    expect(await settled(job)).toBe('completed');
    expect(Date.now()).toBeGreaterThanOrEqual(notBefore);
    // One counted attempt: the deferred run moved the job back without spending one.
    expect((await stack.queues.queue('close').getJob(jobId))?.attemptsMade).toBe(1);
    expect(await invoices()).toHaveLength(1);
  });

  it('delayed jobs wait for their time (the scheduler delays a close to the period end)', async () => {
    await stack.startWorkers(tableHandlers(stack.pool));
    const at = Date.now() + 500;
    const { jobId } = await stack.queues.add('close', { subscriberId: 'sub-1', periodKey: '2026-04' }, { at });
    expect(await (await stack.queues.queue('close').getJob(jobId))?.getState()).toBe('delayed');
    expect(await settled(await stack.queues.queue('close').getJob(jobId))).toBe('completed');
    const { rows } = await stack.pool.query<{ at: Date }>('SELECT at FROM toy_runs WHERE job_id = $1', [jobId]);
    expect(rows[0].at.getTime()).toBeGreaterThanOrEqual(at - 5);
    expect(jobIdOf('close', { subscriberId: 'sub-1', periodKey: '2026-04' })).toBe(jobId);
  });
});
