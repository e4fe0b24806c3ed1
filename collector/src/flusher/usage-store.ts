/**
 * Where flushed usage goes. The flusher needs exactly two operations, so it is written
 * against this interface (tests can put faults in front of it); clickhouse-store.ts is the
 * real one.
 */
import type { UsageRow } from '@flowbill/shared/clickhouse/index';

export type { UsageRow };

export interface UsageStore {
  /** Whether an insert with this batch id is already stored (completely: one insert is atomic). */
  hasBatch(batchId: string): Promise<boolean>;
  /**
   * Store `rows` tagged with `batchId` in ONE all-or-nothing insert (rows is never empty).
   * Must give up by itself within the flusher's insertTimeoutMs (the ClickHouse client's
   * request timeout): see README.md, "Two flushers".
   */
  insertBatch(batchId: string, rows: readonly UsageRow[]): Promise<void>;
}
