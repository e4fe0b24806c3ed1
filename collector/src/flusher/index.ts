/** Redis -> ClickHouse exactly-once flush; see README.md. */
export { DEFAULT_READ_PAGE_BYTES, type InsertPart, MalformedBatchError, type ReadBatchOptions, readBatchRows, splitIntoParts } from './batch-reader.js';
export { type BatchInfo, claimBatch, type ClaimRequest, cleanupBatch, recoverBatch, renewLease } from './batch-scripts.js';
export { ClickHouseUsageStore } from './clickhouse-store.js';
export { type CycleSummary, Flusher, type FlusherHooks, type FlusherOptions } from './flusher.js';
export type { UsageRow, UsageStore } from './usage-store.js';
