/**
 * Instants written as ISO 8601 with a UTC offset. The offset is required: a bare
 * "2024-03-01T00:00" means a different instant in every time zone, and the wrong
 * instant bills an hour of traffic to the wrong subscriber.
 */

// T or a space (what psql prints); seconds and up to 3 fraction digits (the database
// keeps whole milliseconds); Z, +03, +0300 or +03:00.
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/** Parse an instant; throws RangeError with a message quoting `text` and saying what is wrong. */
export function parseIsoInstant(text: string): Date {
  const match = INSTANT.exec(text);
  if (match === null) {
    const hint = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text)
      ? 'add a UTC offset, e.g. 2024-03-01T00:00:00+03:00 or 2024-02-29T21:00:00Z'
      : 'expected ISO 8601 like 2024-03-01T00:00:00+03:00 or 2024-02-29T21:00:00.000Z (at most millisecond precision)';
    throw new RangeError(`invalid time "${text}": ${hint}`);
  }
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number);
  const second = Number(match[6] ?? '0');
  const millisecond = Number((match[7] ?? '').padEnd(3, '0'));
  const daysInMonth = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
  if (year < 1970 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    throw new RangeError(`invalid time "${text}": no such date or time${year < 1970 ? ' (years before 1970 are not accepted)' : ''}`);
  }
  const offset = match[8];
  let offsetMinutes = 0;
  if (offset !== 'Z') {
    const digits = offset.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const extraMinutes = Number(digits.slice(2) || '0');
    if (offsetHours > 23 || extraMinutes > 59) throw new RangeError(`invalid time "${text}": bad UTC offset "${offset}"`);
    offsetMinutes = (offset[0] === '-' ? -1 : 1) * (offsetHours * 60 + extraMinutes);
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millisecond) - offsetMinutes * 60_000);
}

