/** PostgreSQL access shared by every component; see README.md in this folder. */
export { type CreatePoolOptions, type Queryable, createPool, redactDatabaseUrl } from './pool.js';
export { withTransaction } from './transaction.js';
export { describeDatabaseError } from './describe-error.js';
export { DEFAULT_POSTGRES_MIGRATIONS_DIR, type MigrationFile, migrationChecksum, readMigrationFiles } from './migration-files.js';
export { type MigratePostgresOptions, type MigratePostgresResult, migratePostgres } from './migrate.js';
export { PostgresMigrationError } from './postgres-migration-error.js';
