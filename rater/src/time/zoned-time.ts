import { DateTime, IANAZone } from 'luxon';

/**
 * All wall-clock reasoning (period boundaries, calendar days, night windows)
 * happens in the subscriber's IANA zone through luxon; instants travel through
 * the rater as epoch milliseconds, which have no zone to get wrong.
 */
export type EpochMillis = number;

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

export function zonedDateTime(instant: EpochMillis, timeZone: string): DateTime {
  const dateTime = DateTime.fromMillis(instant, { zone: timeZone });
  if (!dateTime.isValid) throw new RangeError(`Cannot place ${instant} in time zone "${timeZone}": ${dateTime.invalidExplanation ?? dateTime.invalidReason}`);
  return dateTime;
}

/** ISO-8601 with the zone's offset at that instant, e.g. 2026-03-01T00:00:00.000+03:00. */
export function formatInstant(instant: EpochMillis, timeZone: string): string {
  return zonedDateTime(instant, timeZone).toISO({ suppressMilliseconds: false }) as string;
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
  const local = zonedDateTime(instant, timeZone);
  return Math.round(DateTime.utc(local.year, local.month, local.day).toMillis() / 86_400_000);
}

/** Minutes since local midnight (0–1439) and ISO weekday (1 = Monday … 7 = Sunday). */
export function localClock(instant: EpochMillis, timeZone: string): { minuteOfDay: number; isoWeekday: number } {
  const local = zonedDateTime(instant, timeZone);
  return { minuteOfDay: local.hour * 60 + local.minute, isoWeekday: local.weekday };
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
