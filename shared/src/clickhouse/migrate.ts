/**
 * Applies shared/migrations/clickhouse/NNNN_name.sql to the client's database, recording
 * each version in `schema_migrations` there.
 *
 * ClickHouse has no transactions, so this is check-then-apply: a file's statements run one
 * by one and its row is written after the last one succeeds. A crash in between leaves the
 * version unrecorded and the next run repeats the file, which is why every statement must
 * be idempotent (CREATE ... IF NOT EXISTS, ALTER ... MODIFY TTL). For the same reason two
 * processes migrating at once are harmless: both run the same idempotent statements and
 * the version may be recorded twice.
 *
 * A file whose `-- requires: clickhouse >= X` does not hold for the server is skipped and
 * recorded as skipped (once per server version). It is re-evaluated on every run, so it
 * is applied after the server is upgraded. Nothing ungated may depend on a gated file.
 */
import type { ClickHouse } from './client.js';
import { ClickHouseMigrationError, DEFAULT_CLICKHOUSE_MIGRATIONS_DIR, readClickHouseMigrations, type ClickHouseMigration } from './migration-files.js';
import { ident, sql } from './sql.js';
import { satisfies, type ServerVersion } from './version.js';

export { ClickHouseMigrationError, DEFAULT_CLICKHOUSE_MIGRATIONS_DIR } from './migration-files.js';

export interface MigrateClickHouseOptions {
  /** Default: shared/migrations/clickhouse. Tests point this at their own files. */
  readonly directory?: string;
  /** Progress lines ("applied 0001_usage"); default: silent. */
  readonly log?: (message: string) => void;
}

export interface SkippedMigration {
  readonly version: number;
  readonly name: string;
  /** The requirement that does not hold, e.g. "clickhouse >= 20.3". */
  readonly requires: string;
}

export interface MigrateClickHouseResult {
  readonly serverVersion: ServerVersion;
  /** Versions applied by this call, in order. */
  readonly applied: readonly number[];
  /** Versions applied before this call. */
  readonly alreadyApplied: readonly number[];
  /** Versions this server is too old (or too new) for. */
  readonly skipped: readonly SkippedMigration[];
}

const MIGRATIONS_TABLE = 'schema_migrations';

interface RecordedRow {
  version: number;
  status: 'applied' | 'skipped';
  checksum: string;
  server_version: string;
}

/**
 * Create the database if absent and bring it up to the newest migration. Throws
 * ClickHouseMigrationError, before applying anything, when the file of an applied version
 * changed (write a new migration instead of editing an applied one).
 */
export async function migrate(ch: ClickHouse, options: MigrateClickHouseOptions = {}): Promise<MigrateClickHouseResult> {
  const log = options.log ?? (() => {});
  const migrations = readClickHouseMigrations(options.directory ?? DEFAULT_CLICKHOUSE_MIGRATIONS_DIR);
  await createDatabase(ch);
  const serverVersion = await ch.serverVersion();
  await ch.command(sql`
    CREATE TABLE IF NOT EXISTS ${ident(MIGRATIONS_TABLE)} (
      version UInt32,
      name String,
      status Enum8('applied' = 1, 'skipped' = 2),
      checksum String,
      server_version String,
      reason String,
      recorded_at DateTime
    ) ENGINE = MergeTree ORDER BY (version, recorded_at)`);
  const recorded = await ch.query<RecordedRow>(
    sql`SELECT version, status, checksum, server_version FROM ${ident(MIGRATIONS_TABLE)} ORDER BY version, recorded_at`,
  );
  const appliedChecksums = new Map<number, string>();
  const skippedOn = new Set<string>();
  for (const row of recorded) {
    if (row.status === 'applied') appliedChecksums.set(row.version, row.checksum);
    else skippedOn.add(`${row.version}@${row.server_version}`);
  }

  const changed = migrations.filter((m) => appliedChecksums.has(m.version) && appliedChecksums.get(m.version) !== m.checksum);
  if (changed.length > 0) {
    throw new ClickHouseMigrationError(
      `applied ClickHouse migrations were edited: ${changed.map((m) => m.fileName).join(', ')}; ` +
        'restore them and put the change in a new migration',
    );
  }

  const applied: number[] = [];
  const alreadyApplied: number[] = [];
  const skipped: SkippedMigration[] = [];
  for (const migration of migrations) {
    if (appliedChecksums.has(migration.version)) {
      alreadyApplied.push(migration.version);
      continue;
    }
    const unmet = migration.requires.find((requirement) => !satisfies(serverVersion, requirement));
    if (unmet !== undefined) {
      skipped.push({ version: migration.version, name: migration.name, requires: unmet.text });
      if (!skippedOn.has(`${migration.version}@${serverVersion.text}`)) {
        await record(ch, migration, 'skipped', serverVersion, `server ${serverVersion.text} does not satisfy ${unmet.text}`);
      }
      log(`skipped ${migration.fileName}: needs ${unmet.text}, server is ${serverVersion.text}`);
      continue;
    }
    await apply(ch, migration);
    await record(ch, migration, 'applied', serverVersion, '');
    applied.push(migration.version);
    log(`applied ${migration.fileName}`);
  }
  return { serverVersion, applied, alreadyApplied, skipped };
}

/** CREATE DATABASE through a connection on `system`: a client bound to a missing database gets error 81 on every request. */
async function createDatabase(ch: ClickHouse): Promise<void> {
  const admin = ch.withDatabase('system');
  try {
    await admin.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(ch.database)}`);
  } finally {
    await admin.close();
  }
}

async function apply(ch: ClickHouse, migration: ClickHouseMigration): Promise<void> {
  for (const [index, statement] of migration.statements.entries()) {
    try {
      await ch.command(statement);
    } catch (error) {
      throw new ClickHouseMigrationError(
        `${migration.fileName}, statement ${index + 1} of ${migration.statements.length}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}

async function record(
  ch: ClickHouse,
  migration: ClickHouseMigration,
  status: RecordedRow['status'],
  serverVersion: ServerVersion,
  reason: string,
): Promise<void> {
  await ch.insert(MIGRATIONS_TABLE, [
    {
      version: migration.version,
      name: migration.name,
      status,
      checksum: migration.checksum,
      server_version: serverVersion.text,
      reason,
      recorded_at: Math.floor(Date.now() / 1000),
    },
  ]);
}
