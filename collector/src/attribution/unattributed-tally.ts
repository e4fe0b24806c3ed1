/**
 * Traffic that matched no subscriber at either end, counted per exporter, so that
 * a missing assignment feed or a router exporting transit traffic shows up as a
 * number (and a byte volume) instead of disappearing silently.
 */

export interface UnattributedCount {
  records: number;
  /** Sampling-scaled bytes. */
  bytes: bigint;
  /** Sampling-scaled packets. */
  packets: bigint;
}

export class UnattributedTally {
  private readonly byExporter = new Map<number, UnattributedCount>();

  add(exporterId: number, bytes: bigint, packets: bigint): void {
    const count = this.byExporter.get(exporterId);
    if (count === undefined) {
      this.byExporter.set(exporterId, { records: 1, bytes, packets });
      return;
    }
    count.records++;
    count.bytes += bytes;
    count.packets += packets;
  }

  /** Counts for one exporter id, or undefined when it had no unattributed traffic. */
  get(exporterId: number): Readonly<UnattributedCount> | undefined {
    return this.byExporter.get(exporterId);
  }

  /** [exporterId, count] pairs in first-seen order. */
  entries(): IterableIterator<[number, Readonly<UnattributedCount>]> {
    return this.byExporter.entries();
  }

  /** Records over all exporters. */
  get records(): number {
    let total = 0;
    for (const count of this.byExporter.values()) total += count.records;
    return total;
  }

  /** Forget everything, e.g. after the counts were reported. */
  clear(): void {
    this.byExporter.clear();
  }
}
