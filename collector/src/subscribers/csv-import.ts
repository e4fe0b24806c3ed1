/**
 * Bulk import of subscribers and assignments from CSV (format: csv-assignments.ts).
 * All or nothing: every problem in the file (syntax, values, unknown time zones,
 * contradictory subscriber details, overlaps, rows already imported) is reported with
 * its line number, and nothing is written unless there are none (one transaction).
 * Values are checked first; overlaps only once every line is valid, since an
 * unparseable line has no addresses or times to compare.
 *
 * Rows travel as a few array parameters expanded by unnest(), a handful of statements
 * whatever the row count. Most of the time of a large import is the exclusion
 * constraint checking each row (about 4 s of the 5-6 s for 50,000 rows on two cores).
 */
import { withTransaction } from '@flowbill/shared/postgres/index';
import type pg from 'pg';
import { type CsvAssignmentRow, parseAssignmentCsv } from './csv-assignments.js';
import { CsvImportError, type LineProblem } from './errors.js';
import { assignmentConflictFrom, isAssignmentExclusionViolation } from './exclusion-conflict.js';
import { findDuplicateRows, findOverlaps } from './import-conflicts.js';
import { unknownTimeZones } from './time-zones.js';

export interface CsvImportOptions {
  /** Names the file in messages and in each assignment's note ("<source> line N"). */
  readonly source?: string;
}

export interface CsvImportResult {
  readonly assignments: number;
  readonly subscribersCreated: number;
  /** Existing subscribers whose name or time zone the file changed. */
  readonly subscribersUpdated: number;
  readonly subscribersUnchanged: number;
}

interface SubscriberDetails {
  readonly line: number;
  readonly name: string;
  timeZone: string | null;
  timeZoneLine: number;
}

export async function importAssignmentsCsv(pool: pg.Pool, text: string | Buffer, options: CsvImportOptions = {}): Promise<CsvImportResult> {
  const source = options.source ?? 'CSV';
  const { rows, problems } = parseAssignmentCsv(text);
  const subscribers = collectSubscribers(rows, problems);
  const unknown = new Set(await unknownTimeZones(pool, rows.flatMap((row) => (row.timeZone === null ? [] : [row.timeZone]))));
  for (const row of rows) {
    if (row.timeZone !== null && unknown.has(row.timeZone)) {
      problems.push({ line: row.line, message: `time_zone: unknown time zone "${row.timeZone}" (not in PostgreSQL's pg_timezone_names)` });
    }
  }
  if (problems.length > 0) throw new CsvImportError(source, sortByLine(problems));

  return withTransaction(pool, async (client) => {
    // Blocks other writers (not readers such as collectors reloading) until commit, so
    // that an overlap report describes the table the insert ran against.
    await client.query('LOCK TABLE ip_assignments IN SHARE ROW EXCLUSIVE MODE');
    const counts = await upsertSubscribers(client, subscribers);
    await stageRows(client, rows);
    const duplicates = await findDuplicateRows(client);
    if (duplicates.length > 0) throw new CsvImportError(source, duplicates);
    // The constraint checks every row anyway, so the common case (no overlap) pays
    // for nothing else; only a failed insert runs the search that lists them all.
    await client.query('SAVEPOINT before_insert');
    let inserted: pg.QueryResult;
    try {
      inserted = await client.query(
        `INSERT INTO ip_assignments (subscriber_id, prefix, valid, note)
         SELECT subscriber_id, prefix, valid, $1 || ' line ' || line FROM import_rows ORDER BY line`,
        [source],
      );
    } catch (error) {
      if (!isAssignmentExclusionViolation(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT before_insert');
      const conflicts = await findOverlaps(client);
      throw conflicts.length > 0 ? new CsvImportError(source, conflicts) : assignmentConflictFrom(error);
    }
    return { assignments: inserted.rowCount ?? 0, ...counts };
  });
}

/**
 * One entry per subscriber id. Lines that disagree about a subscriber's name or time
 * zone are problems: silently taking the last one would rename customers by accident.
 */
function collectSubscribers(rows: readonly CsvAssignmentRow[], problems: LineProblem[]): Map<string, SubscriberDetails> {
  const subscribers = new Map<string, SubscriberDetails>();
  for (const row of rows) {
    const seen = subscribers.get(row.subscriberId);
    if (seen === undefined) {
      subscribers.set(row.subscriberId, { line: row.line, name: row.name, timeZone: row.timeZone, timeZoneLine: row.line });
      continue;
    }
    if (seen.name !== row.name) {
      problems.push({ line: row.line, message: `name: subscriber "${row.subscriberId}" is named "${row.name}" here but "${seen.name}" on line ${seen.line}` });
    }
    if (row.timeZone !== null) {
      if (seen.timeZone === null) {
        seen.timeZone = row.timeZone;
        seen.timeZoneLine = row.line;
      } else if (seen.timeZone !== row.timeZone) {
        problems.push({
          line: row.line,
          message: `time_zone: subscriber "${row.subscriberId}" has time zone "${row.timeZone}" here but "${seen.timeZone}" on line ${seen.timeZoneLine}`,
        });
      }
    }
  }
  return subscribers;
}

/**
 * Create new subscribers, update changed ones. Rows without a time zone leave the
 * column out, so a new subscriber gets the table default and an existing one keeps
 * its zone. Unchanged rows are not updated (updated_at stays meaningful).
 */
async function upsertSubscribers(client: pg.PoolClient, subscribers: Map<string, SubscriberDetails>): Promise<Omit<CsvImportResult, 'assignments'>> {
  const withZone = [...subscribers].filter(([, details]) => details.timeZone !== null);
  const withoutZone = [...subscribers].filter(([, details]) => details.timeZone === null);
  const changed: Array<{ created: boolean }> = [];
  if (withZone.length > 0) {
    const result = await client.query<{ created: boolean }>(
      `INSERT INTO subscribers AS s (id, name, time_zone)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, time_zone = EXCLUDED.time_zone
         WHERE (s.name, s.time_zone) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.time_zone)
       RETURNING (xmax = 0) AS created`,
      [withZone.map(([id]) => id), withZone.map(([, details]) => details.name), withZone.map(([, details]) => details.timeZone)],
    );
    changed.push(...result.rows);
  }
  if (withoutZone.length > 0) {
    const result = await client.query<{ created: boolean }>(
      `INSERT INTO subscribers AS s (id, name)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name WHERE s.name IS DISTINCT FROM EXCLUDED.name
       RETURNING (xmax = 0) AS created`,
      [withoutZone.map(([id]) => id), withoutZone.map(([, details]) => details.name)],
    );
    changed.push(...result.rows);
  }
  const created = changed.filter((row) => row.created).length;
  const updated = changed.length - created;
  return { subscribersCreated: created, subscribersUpdated: updated, subscribersUnchanged: subscribers.size - created - updated };
}

async function stageRows(client: pg.PoolClient, rows: readonly CsvAssignmentRow[]): Promise<void> {
  await client.query(
    `CREATE TEMPORARY TABLE import_rows (line integer PRIMARY KEY, subscriber_id text NOT NULL, prefix cidr NOT NULL, valid tstzrange NOT NULL)
     ON COMMIT DROP`,
  );
  await client.query(
    `INSERT INTO import_rows (line, subscriber_id, prefix, valid)
     SELECT line, subscriber_id, prefix, tstzrange(valid_from, valid_to, '[)')
     FROM unnest($1::integer[], $2::text[], $3::cidr[], $4::timestamptz[], $5::timestamptz[])
       AS u(line, subscriber_id, prefix, valid_from, valid_to)`,
    [
      rows.map((row) => row.line),
      rows.map((row) => row.subscriberId),
      rows.map((row) => row.prefix),
      rows.map((row) => row.validFrom.toISOString()),
      rows.map((row) => row.validTo?.toISOString() ?? null),
    ],
  );
  // Temporary tables are never analyzed automatically; the searches need row counts to plan joins.
  await client.query('ANALYZE import_rows');
}

function sortByLine(problems: LineProblem[]): LineProblem[] {
  return [...problems].sort((a, b) => a.line - b.line);
}
