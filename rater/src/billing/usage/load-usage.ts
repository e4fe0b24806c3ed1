import { dateTime, sql, str, usageSeries, type ClickHouse } from '@flowbill/shared/clickhouse/index';
import type { UsageBucket } from '../../usage/usage-schema.js';
import { planUsageReads } from './usage-reads.js';

/** Bytes of one traffic class and direction over a range. */
export interface UsageTotal {
  class: string;
  direction: 'download' | 'upload';
  /** Decimal string: a period's bytes can pass 2^53. */
  bytes: string;
}

/** A subscriber's usage over [from, to) as read for one rating. */
export interface UsageSnapshot {
  /** Epoch ms. */
  from: number;
  to: number;
  buckets: UsageBucket[];
  /** Per class and direction, sorted: what a watermark records and late usage is detected by. */
  totals: UsageTotal[];
  /** usage_1m rows in the range and the newest inserted_at among them (audit trail). */
  rowCount: string;
  newestInsertedAt: number | null;
}

/**
 * Reads hourly buckets from usage_1h and the partial hours at the edges from usage_1m
 * (usage-reads.ts), summed over addresses, as the rater's usage buckets.
 */
export async function loadUsage(ch: ClickHouse, subscriberId: string, from: number, to: number): Promise<UsageSnapshot> {
  if (from % 60_000 !== 0 || to % 60_000 !== 0) throw new RangeError('usage ranges are whole minutes');
  // The audit read goes first: a batch landing between the two reads is then in the
  // buckets but not in the audit numbers, never the other way round.
  const [audit] = await ch.query<{ rows: string; newest: number }>(sql`
    SELECT toString(count()) AS rows, toUInt32(max(inserted_at)) AS newest
    FROM usage_1m
    WHERE subscriber_id = ${str(subscriberId)} AND minute >= ${dateTime(from / 1000)} AND minute < ${dateTime(to / 1000)}`);
  const buckets: UsageBucket[] = [];
  for (const read of planUsageReads(from / 1000, to / 1000)) {
    const series = await usageSeries(ch, { subscriberId, from: read.from, to: read.to, step: read.step });
    for (const bucket of series.buckets) {
      for (const entry of bucket.classes) {
        if (entry.bytes === 0n) continue;
        buckets.push({ start: bucket.start * 1000, class: entry.trafficClass, direction: entry.direction, bytes: entry.bytes });
      }
    }
  }
  return {
    from,
    to,
    buckets,
    totals: usageTotals(buckets),
    rowCount: audit.rows,
    newestInsertedAt: audit.rows === '0' ? null : audit.newest * 1000,
  };
}

export function usageTotals(buckets: readonly UsageBucket[]): UsageTotal[] {
  const sums = new Map<string, UsageTotal & { sum: bigint }>();
  for (const bucket of buckets) {
    const key = `${bucket.class}\u0000${bucket.direction}`;
    const entry = sums.get(key) ?? { class: bucket.class, direction: bucket.direction, bytes: '0', sum: 0n };
    entry.sum += bucket.bytes;
    sums.set(key, entry);
  }
  return [...sums.entries()]
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([, entry]) => ({ class: entry.class, direction: entry.direction, bytes: entry.sum.toString() }));
}

/**
 * How usage now compares with a watermark. Usage only grows (rows are appended, counters
 * are non-negative), so any late batch raises some total; a lower total means data was
 * removed, which billing reports instead of crediting it silently.
 */
export function compareUsage(now: readonly UsageTotal[], watermark: readonly UsageTotal[]): 'same' | 'grew' | 'shrank' {
  const key = (total: UsageTotal) => `${total.class}\u0000${total.direction}`;
  const before = new Map(watermark.map((total) => [key(total), BigInt(total.bytes)]));
  const after = new Map(now.map((total) => [key(total), BigInt(total.bytes)]));
  let grew = false;
  for (const [name, bytes] of before) {
    const current = after.get(name) ?? 0n;
    if (current < bytes) return 'shrank';
    if (current > bytes) grew = true;
  }
  for (const [name, bytes] of after) if (!before.has(name) && bytes > 0n) grew = true;
  return grew ? 'grew' : 'same';
}
