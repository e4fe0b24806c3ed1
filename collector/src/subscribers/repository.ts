/**
 * Subscribers and their address assignments in PostgreSQL (tables from
 * shared/migrations/postgres/0001_subscribers.sql). The database enforces the rules
 * that matter for billing (no address held by two subscribers at once, half-open
 * millisecond intervals); these functions validate input first so the operator gets
 * a message naming the bad value instead of a constraint name.
 */
import type { SubscriberAssignment } from '../attribution/index.js';
import { formatPrefix, parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import { type Queryable, withTransaction } from '@flowbill/shared/postgres/index';
import type pg from 'pg';
import { z } from 'zod';
import { AssignmentConflictError, SubscriberDataError } from './errors.js';
import { assignmentConflictFrom, describeConflict, describeValidity, isAssignmentExclusionViolation } from './exclusion-conflict.js';
import { unknownTimeZones } from './time-zones.js';
import { issueMessages, prefixSchema, subscriberIdSchema, subscriberNameSchema, timeZoneSchema } from './validation.js';

export const SUBSCRIBER_STATUSES = ['active', 'suspended', 'closed'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

export interface Subscriber {
  readonly id: string;
  readonly name: string;
  readonly timeZone: string;
  readonly status: SubscriberStatus;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SubscriberInput {
  readonly id: string;
  readonly name: string;
  /** Omitted: the database default (Europe/Moscow) for a new subscriber, unchanged for an existing one. */
  readonly timeZone?: string;
  /** Omitted: active for a new subscriber, unchanged for an existing one. */
  readonly status?: SubscriberStatus;
}

export interface Assignment {
  /** bigserial, as text (it can exceed 2^53). */
  readonly id: string;
  readonly subscriberId: string;
  /** Canonical text, e.g. "100.64.0.7/32" or "2001:db8:1:100::/56". */
  readonly prefix: string;
  /** Inclusive. */
  readonly validFrom: Date;
  /** Exclusive; null while the assignment lasts. */
  readonly validTo: Date | null;
  readonly note: string | null;
}

export interface ListedAssignment extends Assignment {
  readonly subscriberName: string;
  readonly subscriberTimeZone: string;
}

export interface AssignPrefixInput {
  readonly subscriberId: string;
  /** An address or prefix; host bits must be clear. */
  readonly prefix: string;
  readonly from: Date;
  /** Exclusive end; null or omitted for "until further notice". */
  readonly to?: Date | null;
  /**
   * Close, at `from`, another subscriber's open assignment of exactly this prefix
   * (a dynamic address handed to someone else). Without it such an assignment is a
   * conflict. A covering or covered prefix is never closed implicitly.
   */
  readonly reassign?: boolean;
  readonly note?: string | null;
}

export interface AssignPrefixResult {
  readonly assignment: Assignment;
  /** Assignments of other subscribers that `reassign` ended at `from`. */
  readonly closed: readonly Assignment[];
}

const ASSIGNMENT_COLUMNS = 'id::text AS id, subscriber_id, prefix::text AS prefix, lower(valid) AS valid_from, upper(valid) AS valid_to, note';

interface AssignmentRow {
  id: string;
  subscriber_id: string;
  prefix: string;
  valid_from: Date;
  valid_to: Date | null;
  note: string | null;
}

const subscriberInputSchema = z.object({
  id: subscriberIdSchema,
  name: subscriberNameSchema,
  timeZone: timeZoneSchema.optional(),
  status: z.enum(SUBSCRIBER_STATUSES).optional(),
});

/** Create a subscriber or update its name (and time zone, status when given). */
export async function upsertSubscriber(db: Queryable, input: SubscriberInput): Promise<{ subscriber: Subscriber; created: boolean }> {
  const parsed = subscriberInputSchema.safeParse(input);
  if (!parsed.success) throw new SubscriberDataError(`subscriber ${JSON.stringify(input.id)}: ${issueMessages(parsed.error).join('; ')}`);
  const { id, name, timeZone, status } = parsed.data;
  if (timeZone !== undefined && (await unknownTimeZones(db, [timeZone])).length > 0) {
    throw new SubscriberDataError(`unknown time zone "${timeZone}" (not in pg_timezone_names); use an IANA name such as Europe/Moscow`);
  }
  // DEFAULT keeps the column defaults (one place: the migration) for new rows;
  // COALESCE keeps the stored values of an existing row when the caller did not say.
  const { rows } = await db.query(
    `INSERT INTO subscribers AS s (id, name, time_zone, status)
     VALUES ($1, $2, ${timeZone === undefined ? 'DEFAULT' : '$3'}, ${status === undefined ? 'DEFAULT' : '$4'})
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
       time_zone = COALESCE($3::text, s.time_zone), status = COALESCE($4::text, s.status)
     RETURNING id, name, time_zone, status, created_at, updated_at, (xmax = 0) AS created`,
    [id, name, timeZone ?? null, status ?? null],
  );
  const row = rows[0];
  return {
    subscriber: { id: row.id, name: row.name, timeZone: row.time_zone, status: row.status, createdAt: row.created_at, updatedAt: row.updated_at },
    created: row.created,
  };
}

/** Assign a prefix to a subscriber from `from` (see AssignPrefixInput.reassign); one transaction. */
export async function assignPrefix(pool: pg.Pool, input: AssignPrefixInput): Promise<AssignPrefixResult> {
  const subscriberId = parseOrThrow(subscriberIdSchema, input.subscriberId, 'subscriber');
  const prefix = parseOrThrow(prefixSchema, input.prefix, 'prefix');
  const to = input.to ?? null;
  if (to !== null && to.getTime() <= input.from.getTime()) {
    throw new SubscriberDataError(`the end ${to.toISOString()} must be after the start ${input.from.toISOString()}`);
  }
  try {
    return await withTransaction(pool, async (client) => {
      const exists = await client.query('SELECT 1 FROM subscribers WHERE id = $1', [subscriberId]);
      if (exists.rowCount === 0) throw new SubscriberDataError(`unknown subscriber "${subscriberId}"; add it first (subscribers add)`);
      let closed: Assignment[] = [];
      if (input.reassign === true) {
        const result = await client.query<AssignmentRow>(
          `UPDATE ip_assignments SET valid = tstzrange(lower(valid), $3::timestamptz, '[)')
           WHERE prefix = $1::cidr AND subscriber_id <> $2 AND upper_inf(valid) AND lower(valid) < $3::timestamptz
           RETURNING ${ASSIGNMENT_COLUMNS}`,
          [prefix, subscriberId, input.from.toISOString()],
        );
        closed = result.rows.map(assignmentFromRow);
      }
      // No constraint forbids a subscriber holding the same prefix twice (attribution
      // merges the rows), but a second row is always a mistake, e.g. a command run twice.
      const held = await client.query<AssignmentRow>(
        `SELECT ${ASSIGNMENT_COLUMNS} FROM ip_assignments
         WHERE subscriber_id = $1 AND prefix = $2::cidr AND valid && tstzrange($3::timestamptz, $4::timestamptz, '[)') LIMIT 1`,
        [subscriberId, prefix, input.from.toISOString(), to?.toISOString() ?? null],
      );
      if (held.rows.length > 0) {
        const existing = assignmentFromRow(held.rows[0]);
        throw new AssignmentConflictError(
          describeConflict(
            { subscriberId, prefix, valid: describeValidity(input.from, to) },
            { subscriberId, prefix: existing.prefix, valid: describeValidity(existing.validFrom, existing.validTo) },
          ),
        );
      }
      const inserted = await client.query<AssignmentRow>(
        `INSERT INTO ip_assignments (subscriber_id, prefix, valid, note)
         VALUES ($1, $2::cidr, tstzrange($3::timestamptz, $4::timestamptz, '[)'), $5)
         RETURNING ${ASSIGNMENT_COLUMNS}`,
        [subscriberId, prefix, input.from.toISOString(), to?.toISOString() ?? null, input.note ?? null],
      );
      return { assignment: assignmentFromRow(inserted.rows[0]), closed };
    });
  } catch (error) {
    if (isAssignmentExclusionViolation(error)) throw assignmentConflictFrom(error);
    throw error;
  }
}

/**
 * End the assignment of exactly `prefix` that is valid at `at`, so it holds until `at`
 * (exclusive). Throws SubscriberDataError when none is, or when it starts at `at`
 * (ending it there would leave an empty interval; nothing was ever held).
 */
export async function endAssignment(db: Queryable, prefixText: string, at: Date): Promise<Assignment> {
  const prefix = parseOrThrow(prefixSchema, prefixText, 'prefix');
  const { rows } = await db.query<AssignmentRow>(
    `UPDATE ip_assignments SET valid = tstzrange(lower(valid), $2::timestamptz, '[)')
     WHERE prefix = $1::cidr AND valid @> $2::timestamptz AND lower(valid) < $2::timestamptz
     RETURNING ${ASSIGNMENT_COLUMNS}`,
    [prefix, at.toISOString()],
  );
  if (rows.length > 0) return assignmentFromRow(rows[0]);
  const starting = await db.query('SELECT subscriber_id FROM ip_assignments WHERE prefix = $1::cidr AND lower(valid) = $2::timestamptz', [prefix, at.toISOString()]);
  if (starting.rows.length > 0) {
    throw new SubscriberDataError(`the assignment of ${prefix} to "${starting.rows[0].subscriber_id}" starts at ${at.toISOString()}; there is nothing to end before it`);
  }
  throw new SubscriberDataError(`no assignment of exactly ${prefix} is valid at ${at.toISOString()}`);
}

/** Assignments valid at some instant of [from, to), with their subscribers, by prefix then start. */
export async function listAssignments(db: Queryable, window: { from: Date; to: Date }): Promise<ListedAssignment[]> {
  const { rows } = await db.query<AssignmentRow & { name: string; time_zone: string }>(
    `SELECT a.id::text AS id, a.subscriber_id, a.prefix::text AS prefix, lower(a.valid) AS valid_from,
            upper(a.valid) AS valid_to, a.note, s.name, s.time_zone
     FROM ip_assignments a JOIN subscribers s ON s.id = a.subscriber_id
     WHERE a.valid && tstzrange($1::timestamptz, $2::timestamptz, '[)')
     ORDER BY family(a.prefix), a.prefix, lower(a.valid), a.subscriber_id`,
    [window.from.toISOString(), window.to.toISOString()],
  );
  return rows.map((row) => ({ ...assignmentFromRow(row), subscriberName: row.name, subscriberTimeZone: row.time_zone }));
}

/**
 * Every assignment, past and present, as SubscriberIndex.build wants them. Past ones
 * are included because flows are attributed by their own time, which can be well
 * behind the clock (exporters flush long-lived flows late, collectors restart).
 * One SELECT, so the result is one consistent snapshot.
 */
export async function loadSubscriberAssignments(db: Queryable): Promise<SubscriberAssignment[]> {
  // Bounds are whole milliseconds (a CHECK constraint), so the float8 is exact.
  const { rows } = await db.query<{ subscriber_id: string; prefix: string; valid_from: number; valid_to: number | null }>(
    `SELECT subscriber_id, prefix::text AS prefix,
            (extract(epoch FROM lower(valid)) * 1000)::float8 AS valid_from,
            CASE WHEN upper_inf(valid) THEN NULL ELSE (extract(epoch FROM upper(valid)) * 1000)::float8 END AS valid_to
     FROM ip_assignments`,
  );
  return rows.map((row) => ({ subscriberId: row.subscriber_id, prefix: row.prefix, validFrom: row.valid_from, validTo: row.valid_to }));
}

export function describeAssignment(assignment: Assignment): string {
  return `${assignment.prefix} of "${assignment.subscriberId}" ${describeValidity(assignment.validFrom, assignment.validTo)}`;
}

function assignmentFromRow(row: AssignmentRow): Assignment {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    // PostgreSQL does not print IPv6 per RFC 5952; the rest of flowbill does.
    prefix: formatPrefix(parseAddressOrPrefix(row.prefix)),
    validFrom: row.valid_from,
    validTo: row.valid_to,
    note: row.note,
  };
}

function parseOrThrow<T>(schema: z.ZodType<T, string>, value: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SubscriberDataError(`${what} ${JSON.stringify(value)}: ${issueMessages(parsed.error).join('; ')}`);
  return parsed.data;
}
