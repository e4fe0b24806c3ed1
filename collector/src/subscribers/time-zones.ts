/** Time zone names checked against the server's own list, the one the rater's SQL will use. */
import type { Queryable } from '@flowbill/shared/postgres/index';

/** The names in `zones` that PostgreSQL does not know (pg_timezone_names), in input order. */
export async function unknownTimeZones(db: Queryable, zones: Iterable<string>): Promise<string[]> {
  const wanted = [...new Set(zones)];
  if (wanted.length === 0) return [];
  const { rows } = await db.query<{ name: string }>('SELECT name FROM pg_timezone_names WHERE name = ANY($1::text[])', [wanted]);
  const known = new Set(rows.map((row) => row.name));
  return wanted.filter((zone) => !known.has(zone));
}
