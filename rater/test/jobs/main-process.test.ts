/**
 * The worker process as deployed (tsx rater/src/jobs/main.ts): it starts from the
 * environment, runs jobs with the real billing service, registers the scheduler, and
 * stops cleanly on SIGTERM; a bad variable stops it with status 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withClickHouse } from '@flowbill/shared/testing/clickhouse';
import { afterEach, describe, expect, it } from 'vitest';
import { GB, insertUsage, seedSubscriber, withBillingStores } from '../billing/support/billing-harness.js';
import { eventually, settled, withJobStack } from './support/job-stack.js';

const harness = withBillingStores();
const clickhouseServer = withClickHouse();
const stack = withJobStack({ database: false });
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

function start(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'rater/src/jobs/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exit, stdout: () => stdout, stderr: () => stderr };
}

describe('rater worker process (main.ts)', () => {
  it('runs jobs with the billing service, ticks the scheduler, and stops on SIGTERM with status 0', async () => {
    const subscriberId = await seedSubscriber(harness, { prefix: 'main', planId: 'main-plan' });
    await insertUsage(harness.ch, subscriberId, [{ at: '2026-03-10T12:00:00+03:00', bytes: 25n * GB }]);
    const rater = start({
      REDIS_URL: stack.redisUrl,
      REDIS_PREFIX: stack.prefix.replace(/\{rating\}$/, ''),
      DATABASE_URL: harness.pool.options.connectionString as string,
      CLICKHOUSE_URL: clickhouseServer.server.url,
      CLICKHOUSE_DATABASE: harness.ch.database,
      RATER_GRACE_HOURS: '0',
      RATER_LATE_USAGE_HOURS: '0',
      RATER_ACCRUAL_MINUTES: '60',
      LOG_LEVEL: 'info',
    });
    await eventually(() => rater.stdout().includes('flowbill rater ready'), `rater ready (stderr: ${rater.stderr()})`, 30_000);

    const { jobId } = await stack.queues.add('close', { subscriberId, periodKey: '2026-03' });
    expect(await settled(await stack.queues.queue('close').getJob(jobId))).toBe('completed');
    await eventually(async () => (await harness.pool.query(`SELECT 1 FROM invoices WHERE subscriber_id = $1 AND status = 'finalized'`, [subscriberId])).rowCount === 1, 'invoice finalized');
    // The scheduler's first tick accrued the open period.
    await eventually(async () => (await stack.queues.queue('accrue').getJobCounts('completed')).completed >= 1, 'an accrual ran');

    rater.proc.kill('SIGTERM');
    expect(await rater.exit).toBe(0);
    expect(rater.stdout()).toContain('"msg":"stopped"');
  });

  it('a bad variable stops start-up with status 2 naming it', async () => {
    const rater = start({ RATER_GRACE_HOURS: 'soon', REDIS_URL: stack.redisUrl });
    expect(await rater.exit).toBe(2);
    expect(rater.stderr()).toContain('RATER_GRACE_HOURS="soon": expected an integer');
  });
});
