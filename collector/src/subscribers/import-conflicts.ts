/**
 * What an import would get wrong, found on the staged rows (temporary table
 * import_rows) inside the import's transaction, with line numbers. Two searches:
 *
 * - findDuplicateRows, always: a row the same subscriber already holds for an
 *   overlapping time (in the file or in the database), which is what importing a file
 *   twice looks like. No constraint forbids it (attribution merges such rows), but
 *   doubling every row is never what the operator meant. Cheap: a join on
 *   (subscriber_id, prefix).
 * - findOverlaps, only after the insert failed on the exclusion constraint: every row
 *   whose addresses another subscriber holds at an overlapping time. The constraint
 *   stops at the first; an ISP migrating tens of thousands of subscribers wants them
 *   all at once. The import locked ip_assignments against other writers, so the report
 *   describes the table the insert ran against.
 */
import { formatPrefix, parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import type pg from 'pg';
import type { LineProblem } from './errors.js';
import { describeConflict, describeValidity } from './exclusion-conflict.js';

interface ConflictRow {
  line: number;
  subscriber_id: string;
  prefix: string;
  valid_from: Date;
  valid_to: Date | null;
  other_line: number | null;
  other_id: string | null;
  other_subscriber_id: string;
  other_prefix: string;
  other_from: Date;
  other_to: Date | null;
}

const STAGED = `s.line, s.subscriber_id, s.prefix::text AS prefix, lower(s.valid) AS valid_from, upper(s.valid) AS valid_to`;
const OTHER = `o.subscriber_id AS other_subscriber_id, o.prefix::text AS other_prefix, lower(o.valid) AS other_from, upper(o.valid) AS other_to`;

/** Rows that repeat an assignment the same subscriber holds (earlier in the file, or stored). */
export async function findDuplicateRows(client: pg.PoolClient): Promise<LineProblem[]> {
  return describe(client, `o.subscriber_id = s.subscriber_id AND o.prefix = s.prefix AND o.valid && s.valid`);
}

/** Rows whose addresses another subscriber holds at an overlapping time (the exclusion constraint's rule). */
export async function findOverlaps(client: pg.PoolClient): Promise<LineProblem[]> {
  // Without this index the search inside the file would compare every pair of rows.
  await client.query('CREATE INDEX ON import_rows USING gist (family(prefix), prefix inet_ops, valid)');
  await client.query('ANALYZE import_rows');
  return describe(client, `family(o.prefix) = family(s.prefix) AND o.prefix && s.prefix AND o.valid && s.valid AND o.subscriber_id <> s.subscriber_id`);
}

async function describe(client: pg.PoolClient, condition: string): Promise<LineProblem[]> {
  const { rows } = await client.query<ConflictRow>(
    `SELECT ${STAGED}, o.line AS other_line, NULL AS other_id, ${OTHER}
       FROM import_rows s JOIN import_rows o ON o.line < s.line AND ${condition}
     UNION ALL
     SELECT ${STAGED}, NULL AS other_line, o.id::text AS other_id, ${OTHER}
       FROM import_rows s JOIN ip_assignments o ON ${condition}
     ORDER BY line, other_line NULLS LAST, other_id`,
  );
  return rows.map((row) => ({
    line: row.line,
    message:
      describeConflict(
        { subscriberId: row.subscriber_id, prefix: canonical(row.prefix), valid: describeValidity(row.valid_from, row.valid_to) },
        { subscriberId: row.other_subscriber_id, prefix: canonical(row.other_prefix), valid: describeValidity(row.other_from, row.other_to) },
      ) + (row.other_line !== null ? ` (line ${row.other_line} of this file)` : ` (assignment ${row.other_id} already in the database)`),
  }));
}

/** PostgreSQL does not print IPv6 per RFC 5952; the rest of flowbill does. */
function canonical(prefix: string): string {
  return formatPrefix(parseAddressOrPrefix(prefix));
}
