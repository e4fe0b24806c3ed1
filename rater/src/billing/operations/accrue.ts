import { BillingError } from '../errors.js';
import { assertPeriodKey } from '../period-keys.js';
import { storeAccrual, type Accrual } from '../store/accrual-store.js';
import { composeInvoice } from './compose-invoice.js';
import { withSubscriberTransaction, type BillingContext } from './context.js';

/**
 * The running cost of a period as of `asOf`: the invoice the period would get if it
 * were closed now, from the usage of every whole minute before `asOf` (recurring fees
 * are the period's, as they will be billed; late-usage adjustments waiting for this
 * period are included). Stored as the period's accrual, replacing the previous one
 * unless that one is as of a later instant.
 *
 * Idempotent: the same asOf over the same usage stores the same snapshot.
 */
export async function accrue(context: BillingContext, subscriberId: string, periodKey: string, asOf: Date): Promise<Accrual> {
  assertPeriodKey(periodKey);
  const usageUntil = Math.floor(asOf.getTime() / 60_000) * 60_000;
  return withSubscriberTransaction(context, subscriberId, async (client) => {
    const { document, usage } = await composeInvoice(client, context.clickhouse, subscriberId, periodKey, usageUntil);
    if (document === null) throw new BillingError('nothing-to-bill', `${subscriberId} has no subscription in ${periodKey} and nothing carried over to it`);
    return storeAccrual(client, { subscriberId, periodKey, asOf, usageUntil: new Date(usage.to), currency: document.currency, lines: document.lines });
  });
}
