/**
 * Applies shared/migrations/postgres/NNNN_name.sql in version order, each file in its
 * own transaction together with its row in `schema_migrations`, so a failing file
 * leaves nothing half-applied and is retried next time.
 */
import type pg from 'pg';
import { DEFAULT_POSTGRES_MIGRATIONS_DIR, type MigrationFile, readMigrationFiles } from './migration-files.js';
import { PostgresMigrationError } from './postgres-migration-error.js';

export interface MigratePostgresOptions {
  /** Progress lines ("applied 0001_subscribers"); default: silent. */
  readonly log?: (message: string) => void;
  /** Default: shared/migrations/postgres. Tests point this at their own files. */
  readonly directory?: string;
}

export interface MigratePostgresResult {
  /** Versions applied by this call, in order. */
  readonly applied: readonly number[];
  /** Versions that were already applied before this call. */
  readonly alreadyApplied: readonly number[];
}

/**
 * Session-level advisory lock key ("flowbill" in ASCII). Advisory locks are scoped to
 * the database, so parallel test databases do not wait for each other, while two
 * processes migrating one database (a collector and the API starting together) run
 * one after the other and the second finds nothing left to do.
 */
const MIGRATION_LOCK_KEY = '7380396447896267884';

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Bring the database up to the newest migration. Throws PostgresMigrationError, before
 * applying anything, when an applied file's checksum changed (edit a new migration
 * instead), and when a file fails (earlier files of the same call stay applied).
 */
export async function migratePostgres(pool: pg.Pool, options: MigratePostgresOptions = {}): Promise<MigratePostgresResult> {
  const log = options.log ?? (() => {});
  // Read the files before taking the lock: a bad file name fails without touching the database.
  const files = readMigrationFiles(options.directory ?? DEFAULT_POSTGRES_MIGRATIONS_DIR);
  const client = await pool.connect();
  // Set when a rollback failed: the connection's state is unknown, so it is destroyed
  // rather than returned to the pool (which also releases the advisory lock).
  let unusable: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const appliedRows = (await client.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).rows;
      const pending = checkApplied(files, appliedRows, log);
      const applied: number[] = [];
      for (const file of pending) {
        const failure = await applyOne(client, file);
        if (failure !== undefined) {
          if (failure.rollbackError !== undefined) unusable = failure.rollbackError;
          throw new PostgresMigrationError(`migration ${file.fileName} failed: ${failure.error.message}`, { cause: failure.error });
        }
        applied.push(file.version);
        log(`applied ${file.fileName}`);
      }
      return { applied, alreadyApplied: appliedRows.map((row) => row.version) };
    } finally {
      if (unusable === undefined) {
        try {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
        } catch (error) {
          // The connection died (server restart); destroying it is all that is left to do.
          unusable = error as Error;
        }
      }
    }
  } finally {
    client.release(unusable);
  }
}

/** Verify applied files are unchanged; return the files still to apply, in order. */
function checkApplied(files: readonly MigrationFile[], appliedRows: readonly AppliedRow[], log: (message: string) => void): MigrationFile[] {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  const changed: string[] = [];
  for (const row of appliedRows) {
    const file = byVersion.get(row.version);
    if (file === undefined) {
      // A newer release migrated this database; older code can still run against it.
      log(`migration ${String(row.version).padStart(4, '0')}_${row.name} is applied but not present here (newer code migrated this database)`);
    } else if (file.checksum !== row.checksum) {
      changed.push(`${file.fileName} (applied as checksum ${row.checksum}, the file now has ${file.checksum})`);
    }
  }
  if (changed.length > 0) {
    throw new PostgresMigrationError(
      `refusing to migrate: applied migration files were changed afterwards:\n- ${changed.join('\n- ')}\n` +
        'Restore the applied files and put the change in a new migration.',
    );
  }
  const done = new Set(appliedRows.map((row) => row.version));
  return files.filter((file) => !done.has(file.version));
}

interface ApplyFailure {
  readonly error: Error;
  readonly rollbackError?: Error;
}

/** Apply one file and record it; on failure it is rolled back and the failure returned. */
async function applyOne(client: pg.PoolClient, file: MigrationFile): Promise<ApplyFailure | undefined> {
  try {
    await client.query('BEGIN');
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [file.version, file.name, file.checksum]);
    await client.query('COMMIT');
    return undefined;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
      return { error: error as Error };
    } catch (rollbackError) {
      return { error: error as Error, rollbackError: rollbackError as Error };
    }
  }
}
