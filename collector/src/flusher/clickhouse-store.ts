/** UsageStore over shared/src/clickhouse: flush_batches for hasBatch, one usage_1m INSERT per batch. */
import { batchExists, type ClickHouse, insertUsageBatch } from '@flowbill/shared/clickhouse/index';
import type { UsageRow, UsageStore } from './usage-store.js';

export class ClickHouseUsageStore implements UsageStore {
  constructor(private readonly ch: ClickHouse) {}

  hasBatch(batchId: string): Promise<boolean> {
    return batchExists(this.ch, batchId);
  }

  insertBatch(batchId: string, rows: readonly UsageRow[]): Promise<void> {
    return insertUsageBatch(this.ch, batchId, rows);
  }
}
