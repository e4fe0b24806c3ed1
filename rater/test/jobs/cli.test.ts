/** The `rater` admin CLI against real Redis queues (and one run as a real process). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runRaterCli } from '../../src/jobs/cli.js';
import { settled, withJobStack } from './support/job-stack.js';
import { tableHandlers } from './support/table-handlers.js';

const stack = withJobStack();

/** The Redis prefix the CLI must be given so its queues are this test's (ratingQueuePrefix adds "{rating}"). */
const redisPrefix = () => stack.prefix.replace(/\{rating\}$/, '');

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const status = await runRaterCli(argv, {
    env: { REDIS_URL: stack.redisUrl, REDIS_PREFIX: redisPrefix(), RATER_ATTEMPTS: '4', RATER_BACKOFF_MS: '20' },
    out: (text) => (out += text),
    err: (text) => (err += text),
  });
  return { status, out, err };
}

describe('rater CLI', () => {
  it('rerate queues one job per request; the same request again is reported, not added', async () => {
    const first = await cli('rerate', 'sub-1', '2026-03', '--reason', 'tariff corrected');
    expect(first).toMatchObject({ status: 0, err: '' });
    expect(first.out).toMatch(/^queued rating-rerate rerate\/sub-1\/2026-03\/r[0-9a-f]{16}\n$/);
    const jobs = await stack.queues.queue('rerate').getWaiting();
    expect(jobs).toHaveLength(1);
    expect(jobs[0].data).toEqual({ subscriberId: 'sub-1', periodKey: '2026-03', reason: 'tariff corrected', requestId: expect.stringMatching(/^r[0-9a-f]{16}$/) });
    // The worker's retry settings come from the same environment variables.
    expect(jobs[0].opts).toMatchObject({ attempts: 4, backoff: { type: 'exponential', delay: 20 }, removeOnFail: false });

    const again = await cli('rerate', 'sub-1', '2026-03', '--reason', 'tariff corrected');
    expect(again.out).toMatch(/^already requested: rating-rerate rerate\/sub-1\/2026-03\/r[0-9a-f]{16} is waiting/);
    const explicit = await cli('rerate', 'sub-1', '2026-03', '--reason', 'tariff corrected', '--request-id', 'ticket-4711');
    expect(explicit.out).toBe('queued rating-rerate rerate/sub-1/2026-03/ticket-4711\n');
    expect(await stack.queues.queue('rerate').getJobCountByTypes('waiting')).toBe(2);
  });

  it('refuses bad arguments with status 2', async () => {
    expect(await cli('rerate', 'sub-1', '2026-13', '--reason', 'x')).toMatchObject({ status: 2, err: expect.stringContaining('periodKey must be YYYY-MM') });
    expect((await cli('rerate', 'sub-1', '2026-03')).status).toBe(2);
    expect(await cli('jobs', 'failed', '--queue', 'nope')).toMatchObject({ status: 2, err: expect.stringContaining('expected one of accrue, close') });
  });

  it('jobs failed shows failed jobs with their error; jobs retry moves one back', async () => {
    expect(await cli('jobs', 'failed')).toMatchObject({ status: 0, out: 'no failed jobs\n' });
    await stack.startWorkers(
      tableHandlers(stack.pool, {
        rerate: async ({ subscriberId }) => {
          throw new Error(`subscriber ${subscriberId} has no invoice to re-rate`);
        },
      }),
    );
    await cli('rerate', 'sub-9', '2026-02', '--reason', 'complaint', '--request-id', 'c-1');
    expect(await settled(await stack.queues.queue('rerate').getJob('rerate/sub-9/2026-02/c-1'))).toBe('failed');

    const human = await cli('jobs', 'failed');
    expect(human.status).toBe(0);
    expect(human.out).toContain('rating-rerate  rerate/sub-9/2026-02/c-1  failed ');
    expect(human.out).toContain('after 4/4 attempts'); // RATER_ATTEMPTS=4 of the CLI that added it
    expect(human.out).toContain('error: subscriber sub-9 has no invoice to re-rate');
    const json = JSON.parse((await cli('jobs', 'failed', '--queue', 'rerate', '--json')).out);
    expect(json).toEqual([expect.objectContaining({ jobId: 'rerate/sub-9/2026-02/c-1', failedReason: 'subscriber sub-9 has no invoice to re-rate', stack: expect.stringContaining('Error: subscriber sub-9') })]);
    expect((await cli('jobs', 'failed', '--queue', 'close', '--json')).out).toBe('[]\n');

    expect(await cli('jobs', 'retry', 'rerate', 'rerate/sub-9/2026-02/nope')).toMatchObject({ status: 1, err: 'rater: no failed job rerate/sub-9/2026-02/nope in rating-rerate\n' });
    expect(await cli('jobs', 'retry', 'rating-rerate', 'rerate/sub-9/2026-02/c-1')).toMatchObject({ status: 0, out: 'retrying rating-rerate rerate/sub-9/2026-02/c-1\n' });
  });

  it('an unreachable Redis is an error within seconds, not a hang', async () => {
    const started = Date.now();
    let err = '';
    const status = await runRaterCli(['jobs', 'failed'], { env: { REDIS_URL: 'redis://127.0.0.1:1' }, out: () => {}, err: (text) => (err += text) });
    expect(status).toBe(1);
    expect(err).toMatch(/^rater: /);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs as a process (pnpm rater = tsx rater/src/jobs/cli-main.ts)', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'rater/src/jobs/cli-main.ts', 'jobs', 'counts', '--json'], {
      cwd: root,
      env: { ...process.env, REDIS_URL: stack.redisUrl, REDIS_PREFIX: redisPrefix() },
    });
    expect(JSON.parse(stdout)['rating-close']).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 });
  });
});
