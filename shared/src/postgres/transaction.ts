/** Run work inside one transaction on one pooled connection. */
import type pg from 'pg';

/**
 * BEGIN, `work(client)`, COMMIT; ROLLBACK if `work` throws (the error is rethrown).
 * The client goes back to the pool either way; if ROLLBACK itself fails the
 * connection is discarded instead, since its state is unknown.
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError as Error;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
