import type { ClickHouse } from '@flowbill/shared/clickhouse/index';
import { withTransaction } from '@flowbill/shared/postgres/index';
import type pg from 'pg';
import { lockSubscriberBilling } from '../store/lock.js';

export interface BillingContext {
  readonly pool: pg.Pool;
  readonly clickhouse: ClickHouse;
  /** Issue time of corrections and credit notes (operations given an explicit instant use that). */
  readonly clock: () => Date;
}

/**
 * One PostgreSQL transaction holding the subscriber's billing lock. ClickHouse reads
 * happen inside it on purpose: the usage a document is rated from and the document are
 * then decided by one holder of the lock, so a concurrent job cannot slip a different
 * rating in between. The lock is per subscriber, so this only serialises one subscriber.
 */
export async function withSubscriberTransaction<T>(context: BillingContext, subscriberId: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(context.pool, async (client) => {
    await lockSubscriberBilling(client, subscriberId);
    return work(client);
  });
}
