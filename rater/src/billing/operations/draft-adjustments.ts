import type { Queryable } from '@flowbill/shared/postgres/index';
import { nextPeriodKey } from '../period-keys.js';
import { openAdjustmentsBilledIn } from '../store/adjustment-store.js';
import { invoiceIdFor, invoiceStatus, loadInvoice, rewriteDraftLines } from '../store/invoice-store.js';
import { documentCurrency } from './compose-invoice.js';

/**
 * The period late usage of `sourcePeriodKey` is billed on: the first later period whose
 * invoice is not finalized yet (normally the next one). Its draft may not exist yet; the
 * adjustment then waits for closePeriod of that period, which always includes it.
 */
export async function adjustmentTargetPeriod(client: Queryable, subscriberId: string, sourcePeriodKey: string): Promise<string> {
  let key = nextPeriodKey(sourcePeriodKey);
  while ((await invoiceStatus(client, invoiceIdFor(subscriberId, key))) === 'finalized') key = nextPeriodKey(key);
  return key;
}

/**
 * Brings an existing draft's adjustment lines in line with the adjustments in force for
 * its period, keeping its rated lines: the same lines closePeriod would compose, without
 * rating the period again.
 */
export async function refreshDraftAdjustments(client: Queryable, subscriberId: string, periodKey: string): Promise<void> {
  const draft = await loadInvoice(client, invoiceIdFor(subscriberId, periodKey));
  if (draft === null || draft.status === 'finalized') return;
  const adjustments = await openAdjustmentsBilledIn(client, subscriberId, periodKey);
  const rated = draft.lines.filter((line) => line.adjustmentId === null);
  const currency = documentCurrency(rated.length > 0 ? draft.currency : null, adjustments, `${subscriberId} ${periodKey}`) ?? draft.currency;
  await rewriteDraftLines(client, draft.id, currency, [...rated, ...adjustments.flatMap((adjustment) => adjustment.lines)]);
}
