/** Reading `NNNN_name.sql` migration files from a directory, with their checksums. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PostgresMigrationError } from './postgres-migration-error.js';

export interface MigrationFile {
  /** The NNNN part as a number. */
  readonly version: number;
  /** The part after the underscore, without ".sql". */
  readonly name: string;
  readonly fileName: string;
  readonly sql: string;
  /** sha256 hex of the file with line endings normalised to "\n". */
  readonly checksum: string;
}

/** shared/migrations/postgres, found relative to this file so it works from any working directory. */
export const DEFAULT_POSTGRES_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/postgres/', import.meta.url));

const FILE_NAME = /^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

/**
 * Every migration in `directory`, ordered by version. Other files (a README) are
 * ignored, but a `.sql` file that does not follow the pattern is an error: silently
 * skipping "0002-rater.sql" would leave a schema change unapplied.
 */
export function readMigrationFiles(directory: string = DEFAULT_POSTGRES_MIGRATIONS_DIR): MigrationFile[] {
  const problems: string[] = [];
  const byVersion = new Map<number, MigrationFile>();
  for (const fileName of readdirSync(directory).sort()) {
    if (!fileName.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(fileName);
    if (match === null) {
      problems.push(`${fileName}: expected NNNN_lowercase_name.sql, e.g. 0002_rater_tariffs.sql`);
      continue;
    }
    const version = Number(match[1]);
    const other = byVersion.get(version);
    if (other !== undefined) {
      problems.push(`${fileName}: version ${match[1]} is also used by ${other.fileName}`);
      continue;
    }
    const sql = readFileSync(join(directory, fileName), 'utf8');
    byVersion.set(version, { version, name: match[2], fileName, sql, checksum: migrationChecksum(sql) });
  }
  if (problems.length > 0) throw new PostgresMigrationError(`bad migration files in ${directory}:\n- ${problems.join('\n- ')}`);
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** Line endings are normalised so a checkout with CRLF conversion does not look like an edit. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}
