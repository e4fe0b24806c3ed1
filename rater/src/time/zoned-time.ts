import { DateTime, IANAZone } from 'luxon';
import { dayOfLocalMillis, isoWeekdayOfDay, minuteOfLocalMillis, zoneOffsetTable } from './zone-offsets.js';

/**
 * All wall-clock reasoning (period boundaries, calendar days, night windows)
 * happens in the subscriber's IANA zone through luxon; instants travel through
 * the rater as epoch milliseconds, which have no zone to get wrong.
 */
export type EpochMillis = number;

/** Answers of `IANAZone.isValidZone` (which builds an Intl.DateTimeFormat each time); the zone data cannot change while the process runs. */
const zoneValidity = new Map<string, boolean>();
const MAX_ZONE_ANSWERS = 2_000;

export function isValidTimeZone(zone: string): boolean {
  const known = zoneValidity.get(zone);
  if (known !== undefined) return known;
  const valid = IANAZone.isValidZone(zone);
  if (typeof zone === 'string') {
    if (zoneValidity.size >= MAX_ZONE_ANSWERS) zoneValidity.clear();
    zoneValidity.set(zone, valid);
  }
  return valid;
}

export function zonedDateTime(instant: EpochMillis, timeZone: string): DateTime {
  const dateTime = DateTime.fromMillis(instant, { zone: timeZone });
  if (!dateTime.isValid) throw new RangeError(`Cannot place ${instant} in time zone "${timeZone}": ${dateTime.invalidExplanation ?? dateTime.invalidReason}`);
  return dateTime;
}

/** Formatted instants per zone; a rating run formats the same period bounds and due dates for every subscriber. */
const formatted = new Map<string, Map<EpochMillis, string>>();
const MAX_FORMATTED_PER_ZONE = 10_000;

/** ISO-8601 with the zone's offset at that instant, e.g. 2026-03-01T00:00:00.000+03:00. */
export function formatInstant(instant: EpochMillis, timeZone: string): string {
  // Only zones with a fixed rule set are memoised (not "local"/"default", which can be changed at run time).
  const memo = zoneOffsetTable(timeZone) === null ? undefined : (formatted.get(timeZone) ?? new Map<EpochMillis, string>());
  const known = memo?.get(instant);
  if (known !== undefined) return known;
  const text = zonedDateTime(instant, timeZone).toISO({ suppressMilliseconds: false }) as string;
  if (memo) {
    if (memo.size >= MAX_FORMATTED_PER_ZONE) memo.clear();
    memo.set(instant, text);
    formatted.set(timeZone, memo);
  }
  return text;
}

/** The instant local midnight begins on the calendar day that contains `instant`. */
export function startOfLocalDay(instant: EpochMillis, timeZone: string): EpochMillis {
  return zonedDateTime(instant, timeZone).startOf('day').toMillis();
}

/**
 * A day number that grows by exactly one per local calendar day, whatever the
 * day's length in hours (23 or 25 around DST changes). Differences of these
 * numbers count calendar days.
 */
export function localDayNumber(instant: EpochMillis, timeZone: string): number {
  const table = zoneOffsetTable(timeZone);
  if (table !== null && table.covers(instant)) return dayOfLocalMillis(table.localMillis(instant));
  const local = zonedDateTime(instant, timeZone);
  return Math.round(DateTime.utc(local.year, local.month, local.day).toMillis() / 86_400_000);
}

/** Minutes since local midnight (0–1439) and ISO weekday (1 = Monday … 7 = Sunday). */
export function localClock(instant: EpochMillis, timeZone: string): { minuteOfDay: number; isoWeekday: number } {
  const table = zoneOffsetTable(timeZone);
  if (table !== null && table.covers(instant)) {
    const local = table.localMillis(instant);
    return { minuteOfDay: minuteOfLocalMillis(local), isoWeekday: isoWeekdayOfDay(dayOfLocalMillis(local)) };
  }
  const local = zonedDateTime(instant, timeZone);
  return { minuteOfDay: local.hour * 60 + local.minute, isoWeekday: local.weekday };
}

/**
 * `localClock` for many instants of one zone, packed as minuteOfDay * 8 + isoWeekday
 * so a loop over usage buckets allocates nothing. Exactly `localClock`'s values.
 */
export type PackedClock = (instant: EpochMillis) => number;

export function packedLocalClock(timeZone: string): PackedClock {
  const table = zoneOffsetTable(timeZone);
  const slow: PackedClock = (instant) => {
    const { minuteOfDay, isoWeekday } = localClock(instant, timeZone);
    return minuteOfDay * 8 + isoWeekday;
  };
  if (table === null) return slow;
  return (instant) => {
    if (!table.covers(instant)) return slow(instant);
    const local = table.localMillis(instant);
    return minuteOfLocalMillis(local) * 8 + isoWeekdayOfDay(dayOfLocalMillis(local));
  };
}

/**
 * Parses an ISO-8601 date or date-time. A value without an offset is read as
 * wall-clock time in `timeZone`; a value with an offset keeps it.
 */
export function parseIsoInstant(text: string, timeZone: string): EpochMillis {
  const dateTime = DateTime.fromISO(text, { zone: timeZone, setZone: false });
  if (!dateTime.isValid) throw new RangeError(`"${text}" is not an ISO-8601 date or date-time`);
  return dateTime.toMillis();
}
