/**
 * A worker process killed with SIGKILL in the middle of a job: the job's lock expires,
 * another worker process's stalled check puts the job back, that worker runs it, and
 * the database ends with exactly one, correct invoice — whether the first worker died
 * before its transaction committed or after (work done, job not yet marked completed).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSignalDir, spawnWorker, type ChildWorker, type SignalDir } from './support/child-worker.js';
import { settled, withJobStack } from './support/job-stack.js';
import { TOY_SCHEMA } from './support/table-handlers.js';

const stack = withJobStack();
const LOCK_MS = 2_000;
let signals: SignalDir;
let children: ChildWorker[] = [];

beforeEach(async () => {
  signals = createSignalDir();
  await stack.pool.query(TOY_SCHEMA);
  await stack.pool.query(`INSERT INTO toy_usage VALUES ('sub-7', '2026-03', 2000000000), ('sub-7', '2026-03', 2000000001)`);
});
afterEach(async () => {
  await Promise.all(children.map((child) => child.kill9()));
  children = [];
  signals.remove();
});

async function worker(pauseAt: 'commit' | 'after-handler' | 'none'): Promise<ChildWorker> {
  const child = await spawnWorker(
    {
      REDIS_URL: stack.redisUrl,
      RATER_QUEUE_PREFIX: stack.prefix,
      DATABASE_URL: stack.databaseUrl,
      HANDLERS: 'table',
      KINDS: 'close',
      PAUSE_AT: pauseAt,
      LOCK_MS: String(LOCK_MS),
      STALLED_INTERVAL_MS: '300',
    },
    signals,
  );
  children.push(child);
  return child;
}

async function runs() {
  const { rows } = await stack.pool.query<{ pid: number; at: Date }>('SELECT pid, at FROM toy_runs ORDER BY at');
  return rows;
}

describe.each([
  { pauseAt: 'commit' as const, what: 'before its transaction committed', writer: 'second' },
  { pauseAt: 'after-handler' as const, what: 'after committing, before the job was marked completed', writer: 'first' },
])('a worker killed with SIGKILL $what', ({ pauseAt, writer }) => {
  it('is retried by another worker after the lock expires; exactly one correct invoice', async () => {
    const first = await worker(pauseAt);
    const { jobId } = await stack.queues.add('close', { subscriberId: 'sub-7', periodKey: '2026-03' });
    await first.waitPaused();
    const killedAt = Date.now();
    await first.kill9();

    const second = await worker('none');
    const job = await stack.queues.queue('close').getJob(jobId);
    expect(await settled(job, 'job completed by the second worker')).toBe('completed');

    const done = await stack.queues.queue('close').getJob(jobId);
    const { rows } = await stack.pool.query('SELECT subscriber_id, period_key, total::text, written_by FROM toy_invoices');
    // 4.000000001 GB at 12.50 = 50.0000000125 -> 50.00
    expect(rows).toEqual([{ subscriber_id: 'sub-7', period_key: '2026-03', total: '50.00', written_by: writer === 'first' ? first.pid : second.pid }]);
    expect(done?.returnvalue).toEqual({ total: '50.00', created: writer === 'second' });

    const started = await runs();
    expect(started.map((run) => run.pid)).toEqual([first.pid, second.pid]);
    // The second run waited for the dead worker's lock to expire (minus scheduling slack).
    expect(started[1].at.getTime() - killedAt).toBeGreaterThanOrEqual(LOCK_MS - 1_000);
    expect(await stack.queues.queue('close').getJobCounts('failed', 'waiting', 'active')).toEqual({ failed: 0, waiting: 0, active: 0 });
  });
});
