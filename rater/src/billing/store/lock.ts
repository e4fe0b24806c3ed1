import type { Queryable } from '@flowbill/shared/postgres/index';

/**
 * Every write of one subscriber's billing (catalog changes of the subscriber, closing,
 * finalizing, late usage, re-rating, accruals) runs under this transaction-scoped lock,
 * so two jobs for the same subscriber apply one after the other and each sees what the
 * other committed. Different subscribers never wait for each other.
 */
export async function lockSubscriberBilling(client: Queryable, subscriberId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('flowbill.billing/' || $1, 0))`, [subscriberId]);
}

/** Publishing versions of one tariff is serialised the same way (next version number, conflicts). */
export async function lockTariff(client: Queryable, tariffId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('flowbill.tariff/' || $1, 0))`, [tariffId]);
}
