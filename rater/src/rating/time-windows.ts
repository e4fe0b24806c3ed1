import type { TimeWindow } from '../tariff/tariff-schema.js';
import { localClock, type EpochMillis } from '../time/zoned-time.js';

function minutesOf(clockTime: string): number {
  const [hours, minutes] = clockTime.split(':').map(Number);
  return hours * 60 + minutes;
}

/** A time window with its clock times parsed and its weekdays as a bit set, ready to test many instants. */
export interface CompiledTimeWindow {
  from: number;
  to: number;
  /** Bit d set when ISO weekday d is allowed; null when the window has no weekday restriction. */
  weekdayBits: number | null;
}

const compiled = new WeakMap<TimeWindow, CompiledTimeWindow>();

export function compileTimeWindow(window: TimeWindow): CompiledTimeWindow {
  let entry = compiled.get(window);
  if (entry === undefined) {
    const weekdayBits = window.daysOfWeek ? window.daysOfWeek.reduce((bits, day) => (Number.isInteger(day) && day >= 1 && day <= 7 ? bits | (1 << day) : bits), 0) : null;
    entry = { from: minutesOf(window.from), to: minutesOf(window.to), weekdayBits };
    compiled.set(window, entry);
  }
  return entry;
}

/** `isInTimeWindow` on a clock already read: minutes since local midnight and ISO weekday. */
export function windowContains(window: CompiledTimeWindow, minuteOfDay: number, isoWeekday: number): boolean {
  if (window.weekdayBits !== null && (window.weekdayBits & (1 << isoWeekday)) === 0) return false;
  const { from, to } = window;
  return from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
}

/**
 * Whether an instant falls in a time-of-day window, read on the wall clock of
 * the subscriber's zone. [from, to) is half-open; when `to` is earlier than
 * `from` the window wraps past midnight (23:00–07:00). Weekdays are those of
 * the instant itself, so 02:00 on Saturday is a Saturday.
 */
export function isInTimeWindow(instant: EpochMillis, window: TimeWindow, timeZone: string): boolean {
  const { minuteOfDay, isoWeekday } = localClock(instant, timeZone);
  return windowContains(compileTimeWindow(window), minuteOfDay, isoWeekday);
}
