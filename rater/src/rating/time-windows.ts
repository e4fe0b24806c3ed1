import type { TimeWindow } from '../tariff/tariff-schema.js';
import { localClock, type EpochMillis } from '../time/zoned-time.js';

function minutesOf(clockTime: string): number {
  const [hours, minutes] = clockTime.split(':').map(Number);
  return hours * 60 + minutes;
}

/**
 * Whether an instant falls in a time-of-day window, read on the wall clock of
 * the subscriber's zone. [from, to) is half-open; when `to` is earlier than
 * `from` the window wraps past midnight (23:00–07:00). Weekdays are those of
 * the instant itself, so 02:00 on Saturday is a Saturday.
 */
export function isInTimeWindow(instant: EpochMillis, window: TimeWindow, timeZone: string): boolean {
  const { minuteOfDay, isoWeekday } = localClock(instant, timeZone);
  if (window.daysOfWeek && !window.daysOfWeek.includes(isoWeekday)) return false;
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  return from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
}
