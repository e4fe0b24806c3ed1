/** Subscribers and address assignments in PostgreSQL; see README.md in this folder. */
export { API_KEY_PREFIX, createApiKey, generateApiKey, hashApiKey, revokeApiKey } from './api-keys.js';
export {
  ASSIGNMENTS_CHANNEL,
  AssignmentWatcher,
  type AssignmentWatcherOptions,
  type AssignmentWatcherStats,
  type ReloadReason,
} from './assignment-watcher.js';
export { DEFAULT_DATABASE_URL, type SubscribersCliIo, runSubscribersCli } from './command.js';
export { type CsvAssignmentRow, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, type ParsedAssignmentCsv, parseAssignmentCsv } from './csv-assignments.js';
export { type CsvImportOptions, type CsvImportResult, importAssignmentsCsv } from './csv-import.js';
export { AssignmentConflictError, CsvImportError, type LineProblem, SubscriberDataError } from './errors.js';
export { parseIsoInstant } from './iso-time.js';
export { ListenConnection, type ListenConnectionOptions } from './listen-connection.js';
export {
  type Assignment,
  type AssignPrefixInput,
  type AssignPrefixResult,
  type ListedAssignment,
  SUBSCRIBER_STATUSES,
  type Subscriber,
  type SubscriberInput,
  type SubscriberStatus,
  assignPrefix,
  describeAssignment,
  endAssignment,
  listAssignments,
  loadSubscriberAssignments,
  upsertSubscriber,
} from './repository.js';
export { unknownTimeZones } from './time-zones.js';
export { SUBSCRIBER_ID_PATTERN } from './validation.js';
