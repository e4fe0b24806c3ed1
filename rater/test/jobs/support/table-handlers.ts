/**
 * Real handlers over real PostgreSQL tables, for testing the queue layer on its own
 * (retries, duplicates, crashes) independently of the billing service: a "close" turns
 * a subscriber's usage rows into one invoice row in a transaction, exactly as the real
 * close does in shape (read usage, price, insert the one invoice the primary key
 * allows). Every start of a handler is recorded outside the transaction, so tests can
 * count runs, including runs whose transaction died.
 */
import { withTransaction } from '@flowbill/shared/postgres/index';
import type pg from 'pg';
import type { RatingJobHandlers } from '../../../src/jobs/rating-workers.js';

export const TOY_SCHEMA = `
CREATE TABLE IF NOT EXISTS toy_usage (subscriber_id text NOT NULL, period_key text NOT NULL, bytes bigint NOT NULL);
CREATE TABLE IF NOT EXISTS toy_invoices (
  subscriber_id text NOT NULL, period_key text NOT NULL, total numeric(20, 2) NOT NULL, written_by int NOT NULL,
  PRIMARY KEY (subscriber_id, period_key));
CREATE TABLE IF NOT EXISTS toy_runs (job_id text NOT NULL, kind text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
TRUNCATE toy_usage, toy_invoices, toy_runs;
`;

/** Price per decimal GB; totals are rounded half-up to kopecks by PostgreSQL numeric round(). */
export const TOY_PRICE_PER_GB = '12.50';

export async function recordRun(pool: pg.Pool, jobId: string | undefined, kind: string): Promise<void> {
  await pool.query('INSERT INTO toy_runs (job_id, kind, pid) VALUES ($1, $2, $3)', [jobId ?? '?', kind, process.pid]);
}

export async function runsOf(pool: pg.Pool, jobId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM toy_runs WHERE job_id = $1', [jobId]);
  return Number(rows[0].n);
}

const unexpected = (kind: string) => async () => {
  throw new Error(`${kind} jobs are not part of this test`);
};

export function tableHandlers(pool: pg.Pool, overrides: Partial<RatingJobHandlers> = {}): RatingJobHandlers {
  return {
    accrue: unexpected('accrue'),
    finalize: unexpected('finalize'),
    lateUsage: unexpected('lateUsage'),
    rerate: unexpected('rerate'),
    mirror: unexpected('mirror'),
    async close({ subscriberId, periodKey }, { job }) {
      await recordRun(pool, job.id, 'close');
      return withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ total: string }>(
          `SELECT round(coalesce(sum(bytes), 0)::numeric / 1e9 * $3, 2)::text AS total
             FROM toy_usage WHERE subscriber_id = $1 AND period_key = $2`,
          [subscriberId, periodKey, TOY_PRICE_PER_GB],
        );
        const inserted = await client.query(
          `INSERT INTO toy_invoices (subscriber_id, period_key, total, written_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (subscriber_id, period_key) DO NOTHING`,
          [subscriberId, periodKey, rows[0].total, process.pid],
        );
        return { total: rows[0].total, created: inserted.rowCount === 1 };
      });
    },
    ...overrides,
  };
}
