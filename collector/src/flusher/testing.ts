/** Test helpers for the flusher tests: an in-memory UsageStore with fault switches. */
import type { UsageRow, UsageStore } from './usage-store.js';

export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** Keeps inserts by batch id; each insert is atomic, like one ClickHouse INSERT block. */
export class MemoryUsageStore implements UsageStore {
  readonly batches = new Map<string, readonly UsageRow[]>();
  /** Inserts of an id already present (a double count if it ever happens). */
  duplicateInserts = 0;
  /** While true every call fails as if the server were unreachable. */
  down = false;
  /** The next n inserts are stored and then fail (the reply lost). */
  lostReplies = 0;
  /** Called at the start of every insert (to stall or observe). */
  onInsert: ((batchId: string) => Promise<void>) | undefined;
  calls = { hasBatch: 0, insertBatch: 0 };

  async hasBatch(batchId: string): Promise<boolean> {
    this.calls.hasBatch++;
    if (this.down) throw new Error('store unreachable');
    return this.batches.has(batchId);
  }

  async insertBatch(batchId: string, rows: readonly UsageRow[]): Promise<void> {
    this.calls.insertBatch++;
    await this.onInsert?.(batchId);
    if (this.down) throw new Error('store unreachable');
    if (rows.length === 0) throw new Error('empty insert');
    if (this.batches.has(batchId)) this.duplicateInserts++;
    this.batches.set(batchId, [...rows]);
    if (this.lostReplies > 0) {
      this.lostReplies--;
      throw new Error('connection reset after the insert was stored');
    }
  }

  allRows(): UsageRow[] {
    return [...this.batches.values()].flat();
  }

  totals(): { bytes: bigint; packets: bigint; flows: bigint } {
    const total = { bytes: 0n, packets: 0n, flows: 0n };
    for (const row of this.allRows()) {
      total.bytes += row.bytes;
      total.packets += row.packets;
      total.flows += row.flows;
    }
    return total;
  }

  /** Sum per "minute|subscriber|address|direction|class", as text, for exact comparisons. */
  byKey(): Record<string, string> {
    return sumByKey(this.allRows());
  }
}

export function sumByKey(rows: Iterable<Pick<UsageRow, 'minute' | 'subscriberId' | 'address' | 'direction' | 'trafficClass' | 'bytes' | 'packets' | 'flows'>>): Record<string, string> {
  const sums = new Map<string, [bigint, bigint, bigint]>();
  for (const row of rows) {
    const key = `${row.minute}|${row.subscriberId}|${row.address}|${row.direction}|${row.trafficClass}`;
    const sum = sums.get(key) ?? [0n, 0n, 0n];
    sum[0] += row.bytes;
    sum[1] += row.packets;
    sum[2] += row.flows;
    sums.set(key, sum);
  }
  return Object.fromEntries(
    [...sums.entries()]
      .filter(([, [b, p, f]]) => b !== 0n || p !== 0n || f !== 0n)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, [b, p, f]]) => [key, `${b}/${p}/${f}`]),
  );
}
