/**
 * Turns PostgreSQL's exclusion violation (SQLSTATE 23P01) on ip_assignments into a
 * message that names both subscribers, both prefixes and both validity intervals.
 *
 * The database's DETAIL already carries both keys; it is parsed rather than re-queried
 * because the conflicting row may have been written by the same, now rolled-back,
 * transaction (a bulk import) and would no longer be found.
 */
import { InvalidIpError, formatPrefix, parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import { AssignmentConflictError } from './errors.js';
import { parseIsoInstant } from './iso-time.js';

export const EXCLUSION_VIOLATION = '23P01';

interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
  detail?: unknown;
}

export interface ConflictKey {
  readonly subscriberId: string;
  readonly prefix: string;
  /** "[from, to)" with ISO times, "open" for an unbounded end. */
  readonly valid: string;
}

/** True for a violation of one of ip_assignments' exclusion constraints. */
export function isAssignmentExclusionViolation(error: unknown): boolean {
  const fields = error as PgErrorFields | null;
  return fields?.code === EXCLUSION_VIOLATION && typeof fields.constraint === 'string' && fields.constraint.startsWith('ip_assignments_');
}

/** The two keys of the DETAIL line, or undefined when the server withheld or reworded it. */
export function parseExclusionDetail(detail: string): { attempted: ConflictKey; existing: ConflictKey } | undefined {
  // Column lists hold expressions such as "family(prefix::inet)", hence the lazy match up to ")=(".
  const match = /^Key \((.*?)\)=\((.*)\) conflicts with existing key \((.*?)\)=\((.*)\)\.$/s.exec(detail);
  if (match === null) return undefined;
  const attempted = parseKey(match[1], match[2]);
  const existing = parseKey(match[3], match[4]);
  return attempted !== undefined && existing !== undefined ? { attempted, existing } : undefined;
}

/** An AssignmentConflictError for a 23P01 raised by ip_assignments. */
export function assignmentConflictFrom(error: unknown): AssignmentConflictError {
  const fields = error as PgErrorFields;
  const keys = typeof fields.detail === 'string' ? parseExclusionDetail(fields.detail) : undefined;
  if (keys === undefined) {
    return new AssignmentConflictError(`the assignment overlaps an existing one (${String(fields.constraint)}): ${String(fields.detail ?? (error as Error).message)}`);
  }
  return new AssignmentConflictError(describeConflict(keys.attempted, keys.existing), { cause: error });
}

/** One sentence naming both holders; shared with the import's own conflict report. */
export function describeConflict(attempted: ConflictKey, existing: ConflictKey): string {
  if (attempted.subscriberId === existing.subscriberId) {
    return `subscriber "${attempted.subscriberId}" would hold ${attempted.prefix} ${attempted.valid} but already holds ${existing.prefix} ${existing.valid}`;
  }
  return (
    `${attempted.prefix} for subscriber "${attempted.subscriberId}" ${attempted.valid} overlaps ` +
    `${existing.prefix} held by subscriber "${existing.subscriberId}" ${existing.valid}: ` +
    'two subscribers cannot hold the same address at the same time'
  );
}

/** "[from, to)" as the report prints it. */
export function describeValidity(from: Date, to: Date | null): string {
  return `[${from.toISOString()}, ${to === null ? 'open' : to.toISOString()})`;
}

/** Values in the constraint's column order, e.g. "prefix, valid, subscriber_id". */
function parseKey(columnList: string, valueList: string): ConflictKey | undefined {
  const columns = columnList.split(', ');
  // Ids and prefixes contain no ", " (id charset, cidr syntax) and neither does a
  // range ('["2024-01-01 00:00:00+00",)'), so the values split like the column names.
  const values = valueList.split(', ');
  if (values.length !== columns.length) return undefined;
  const value = (column: string) => values[columns.indexOf(column)];
  const [subscriberId, prefix, valid] = [value('subscriber_id'), value('prefix'), value('valid')];
  if (subscriberId === undefined || prefix === undefined || valid === undefined) return undefined;
  return { subscriberId, prefix: canonicalPrefix(prefix), valid: readableRange(valid) };
}

/** The index prints /32 and /128 keys as bare addresses and IPv6 not per RFC 5952. */
function canonicalPrefix(text: string): string {
  try {
    return formatPrefix(parseAddressOrPrefix(text));
  } catch (error) {
    if (error instanceof InvalidIpError) return text;
    throw error;
  }
}

/** '["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")' -> "[2024-01-01T00:00:00.000Z, 2024-02-01T00:00:00.000Z)". */
function readableRange(text: string): string {
  const match = /^\[(?:"([^"]*)")?,(?:"([^"]*)")?\)$/.exec(text);
  if (match === null) return text;
  try {
    if (match[1] === undefined) return text;
    return describeValidity(parseIsoInstant(match[1]), match[2] === undefined ? null : parseIsoInstant(match[2]));
  } catch {
    return text;
  }
}
