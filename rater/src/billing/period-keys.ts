/** Billing period keys ("YYYY-MM", the month a period starts in) as the billing layer walks them. */

const PERIOD_KEY = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function assertPeriodKey(key: string): void {
  if (!PERIOD_KEY.test(key)) throw new RangeError(`period key must be "YYYY-MM", got ${JSON.stringify(key)}`);
}

/** The key of the period after `key` (the months are consecutive whatever the billing cycle). */
export function nextPeriodKey(key: string): string {
  const match = PERIOD_KEY.exec(key);
  if (!match) throw new RangeError(`period key must be "YYYY-MM", got ${JSON.stringify(key)}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  return month === 12 ? `${String(year + 1).padStart(4, '0')}-01` : `${match[1]}-${String(month + 1).padStart(2, '0')}`;
}
