export { createClickHouse, type ClickHouse, type ClickHouseConfig } from './client.js';
export { ClickHouseConnectionError, ClickHouseError, parseServerError } from './errors.js';
export {
  ClickHouseNotInstalledError,
  findClickHouseServerBinary,
  startClickHouseServer,
  type ClickHouseServer,
  type ClickHouseServerOptions,
} from './local-server.js';
export {
  ClickHouseMigrationError,
  DEFAULT_CLICKHOUSE_MIGRATIONS_DIR,
  migrate,
  type MigrateClickHouseOptions,
  type MigrateClickHouseResult,
  type SkippedMigration,
} from './migrate.js';
export { readClickHouseMigrations, type ClickHouseMigration } from './migration-files.js';
export {
  DATETIME_MAX_SECONDS,
  dateTime,
  ident,
  int,
  isValidIdentifier,
  list,
  qualified,
  sql,
  SqlFragment,
  SqlValueError,
  sqlText,
  str,
  toEpochSeconds,
  toUInt64,
  uint64,
} from './sql.js';
export {
  alignRange,
  batchExists,
  existingBatches,
  insertUsageBatch,
  insertUsageBatches,
  MAX_BUCKETS,
  STEP_SECONDS,
  usageSeries,
  UsageRangeError,
  validateRange,
  type ClassUsage,
  type Counters,
  type Direction,
  type UsageBatch,
  type UsageBucket,
  type UsageRow,
  type UsageSeries,
  type UsageSeriesParams,
  type UsageStep,
} from './usage-queries.js';
export { compareVersions, parseRequirement, parseServerVersion, satisfies, type ServerVersion, type VersionRequirement } from './version.js';
