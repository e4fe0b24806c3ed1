import { DateTime } from 'luxon';
import type { BillingCycle } from '../subscription/subscription-schema.js';
import { formatInstant, zonedDateTime, type EpochMillis } from '../time/zoned-time.js';

/** A billing period: the half-open interval [start, end) between two local midnights in the subscriber's zone. */
export interface BillingPeriod {
  /** "YYYY-MM" of the month in which the period starts. */
  key: string;
  start: EpochMillis;
  end: EpochMillis;
  timeZone: string;
}

interface YearMonth {
  year: number;
  month: number;
}

function parsePeriodKey(key: string): YearMonth {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(key);
  if (!match) throw new RangeError(`Period key must be "YYYY-MM", got "${key}"`);
  return { year: Number(match[1]), month: Number(match[2]) };
}

function formatPeriodKey({ year, month }: YearMonth): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

function nextMonth({ year, month }: YearMonth): YearMonth {
  return month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
}

function previousMonth({ year, month }: YearMonth): YearMonth {
  return month === 1 ? { year: year - 1, month: 12 } : { year, month: month - 1 };
}

/** Local midnight on which the period of `yearMonth` starts; an anchor past the month's end clamps to its last day. */
function periodStart(yearMonth: YearMonth, cycle: BillingCycle, timeZone: string): EpochMillis {
  const firstOfMonth = DateTime.fromObject({ year: yearMonth.year, month: yearMonth.month, day: 1 }, { zone: timeZone });
  const anchorDay = cycle.kind === 'calendar-month' ? 1 : Math.min(cycle.anchorDay, firstOfMonth.daysInMonth as number);
  // startOf('day') also covers zones where midnight itself is skipped by a DST change: the day then starts at the first valid instant.
  return firstOfMonth.set({ day: anchorDay }).startOf('day').toMillis();
}

export function billingPeriodForKey(key: string, cycle: BillingCycle, timeZone: string): BillingPeriod {
  const yearMonth = parsePeriodKey(key);
  return {
    key: formatPeriodKey(yearMonth),
    start: periodStart(yearMonth, cycle, timeZone),
    end: periodStart(nextMonth(yearMonth), cycle, timeZone),
    timeZone,
  };
}

export function billingPeriodContaining(instant: EpochMillis, cycle: BillingCycle, timeZone: string): BillingPeriod {
  const local = zonedDateTime(instant, timeZone);
  const sameMonth = billingPeriodForKey(formatPeriodKey({ year: local.year, month: local.month }), cycle, timeZone);
  if (instant >= sameMonth.start) return sameMonth;
  return billingPeriodForKey(formatPeriodKey(previousMonth({ year: local.year, month: local.month })), cycle, timeZone);
}

/** Months since year 0: consecutive periods differ by one, so "the 4th period of a promotion" is simple subtraction. */
export function periodOrdinal(key: string): number {
  const { year, month } = parsePeriodKey(key);
  return year * 12 + (month - 1);
}

export function describePeriod(period: BillingPeriod): { key: string; start: string; end: string; timeZone: string } {
  return { key: period.key, start: formatInstant(period.start, period.timeZone), end: formatInstant(period.end, period.timeZone), timeZone: period.timeZone };
}
