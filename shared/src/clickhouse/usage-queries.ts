/**
 * The usage read path (API) and the batch write path (flusher) over usage_1m and its
 * rollups. Every value enters the SQL through sql.ts.
 *
 * Ranges are half-open [from, to) in epoch seconds (UTC) and must be aligned to the step
 * (a minute, an hour or a UTC day). A misaligned bound is rejected with UsageRangeError
 * rather than rounded: a rollup row cannot be split, so rounding would silently report
 * traffic outside the requested range (or drop some inside it). Callers that want
 * "the buckets covering this range" use alignRange() first and show the widened range.
 */
import type { ClickHouse } from './client.js';
import { dateTime, ident, list, sql, str, toEpochSeconds, toUInt64 } from './sql.js';

export type UsageStep = '1m' | '1h' | '1d';
export type Direction = 'download' | 'upload';

export const STEP_SECONDS: Readonly<Record<UsageStep, number>> = { '1m': 60, '1h': 3_600, '1d': 86_400 };

/** Each step reads its own table; the bucket column is named after the step. */
const STEP_SOURCE: Readonly<Record<UsageStep, { table: string; column: string }>> = {
  '1m': { table: 'usage_1m', column: 'minute' },
  '1h': { table: 'usage_1h', column: 'hour' },
  '1d': { table: 'usage_1d', column: 'day' },
};

/** More buckets than this in one request is refused (a year of minutes is 525,600). */
export const MAX_BUCKETS = 100_000;

export class UsageRangeError extends RangeError {
  override readonly name = 'UsageRangeError';
}

export interface UsageSeriesParams {
  readonly subscriberId: string;
  /** Inclusive start, epoch seconds or Date; a multiple of the step. */
  readonly from: number | Date;
  /** Exclusive end, epoch seconds or Date; a multiple of the step, after `from`. */
  readonly to: number | Date;
  readonly step: UsageStep;
}

export interface Counters {
  readonly bytes: bigint;
  readonly packets: bigint;
  readonly flows: bigint;
}

export interface ClassUsage extends Counters {
  readonly direction: Direction;
  readonly trafficClass: string;
}

export interface UsageBucket {
  /** Bucket start, epoch seconds (UTC). */
  readonly start: number;
  /** One entry per (direction, traffic class) with traffic, ordered by direction then class. */
  readonly classes: readonly ClassUsage[];
  /** Sums over the classes, per direction. */
  readonly total: Readonly<Record<Direction, Counters>>;
}

export interface UsageSeries {
  readonly subscriberId: string;
  readonly step: UsageStep;
  readonly from: number;
  readonly to: number;
  /** Buckets with traffic only (sparse), ascending by start. */
  readonly buckets: readonly UsageBucket[];
  /** Sums over the whole range, per direction. */
  readonly total: Readonly<Record<Direction, Counters>>;
}

interface SeriesRow {
  start: number;
  direction: Direction;
  traffic_class: string;
  bytes: string;
  packets: string;
  flows: string;
}

export async function usageSeries(ch: ClickHouse, params: UsageSeriesParams): Promise<UsageSeries> {
  const subscriberId = requireText('subscriberId', params.subscriberId);
  const { from, to } = validateRange(params.from, params.to, params.step);
  const source = STEP_SOURCE[params.step];
  const bucket = ident(source.column);
  // sum() with GROUP BY is required even on usage_1m: a minute can hold several rows
  // (several addresses, a late second batch), and the rollups merge eventually.
  // toString(): exact decimal text even if a user profile turned off the quoting of
  // 64-bit integers in JSON (then they would arrive as lossy JS numbers).
  const rows = await ch.query<SeriesRow>(sql`
    SELECT
      toUInt32(${bucket}) AS start,
      direction,
      traffic_class,
      toString(sum(bytes)) AS bytes,
      toString(sum(packets)) AS packets,
      toString(sum(flows)) AS flows
    FROM ${ident(source.table)}
    WHERE subscriber_id = ${str(subscriberId)}
      AND ${bucket} >= ${dateTime(from)}
      AND ${bucket} < ${dateTime(to)}
    GROUP BY start, direction, traffic_class
    ORDER BY start, direction, traffic_class`);

  const buckets: UsageBucket[] = [];
  const total = { download: zero(), upload: zero() };
  let current: { start: number; classes: ClassUsage[]; total: Record<Direction, Counters> } | undefined;
  for (const row of rows) {
    if (current === undefined || current.start !== row.start) {
      current = { start: row.start, classes: [], total: { download: zero(), upload: zero() } };
      buckets.push(current);
    }
    const counters = { bytes: BigInt(row.bytes), packets: BigInt(row.packets), flows: BigInt(row.flows) };
    current.classes.push({ direction: row.direction, trafficClass: row.traffic_class, ...counters });
    current.total[row.direction] = add(current.total[row.direction], counters);
    total[row.direction] = add(total[row.direction], counters);
  }
  return { subscriberId, step: params.step, from, to, buckets, total };
}

/**
 * Validate [from, to) for a step; returns epoch seconds. Throws UsageRangeError naming
 * the aligned alternatives when a bound is not on a bucket boundary.
 */
export function validateRange(fromInput: number | Date, toInput: number | Date, step: UsageStep): { from: number; to: number } {
  const seconds = STEP_SECONDS[step];
  if (seconds === undefined) throw new UsageRangeError(`step must be one of 1m, 1h, 1d; got ${JSON.stringify(step)}`);
  const from = epoch('from', fromInput);
  const to = epoch('to', toInput);
  if (to <= from) throw new UsageRangeError(`empty range: to (${to}) must be after from (${from})`);
  for (const [name, value] of [['from', from], ['to', to]] as const) {
    if (value % seconds !== 0) {
      const down = value - (value % seconds);
      throw new UsageRangeError(
        `${name}=${value} (${iso(value)}) is not aligned to the ${step} step; ` +
          `use ${down} (${iso(down)}) or ${down + seconds} (${iso(down + seconds)})`,
      );
    }
  }
  const count = (to - from) / seconds;
  if (count > MAX_BUCKETS) throw new UsageRangeError(`range spans ${count} ${step} buckets; at most ${MAX_BUCKETS} per request`);
  return { from, to };
}

/** The smallest step-aligned range covering [from, to): from rounded down, to rounded up. */
export function alignRange(fromInput: number | Date, toInput: number | Date, step: UsageStep): { from: number; to: number } {
  const seconds = STEP_SECONDS[step];
  if (seconds === undefined) throw new UsageRangeError(`step must be one of 1m, 1h, 1d; got ${JSON.stringify(step)}`);
  const from = epoch('from', fromInput);
  const to = epoch('to', toInput);
  return { from: from - (from % seconds), to: Math.ceil(to / seconds) * seconds };
}

// ---------------------------------------------------------------------------------------
// Flusher side.

/** One usage_1m row as the flusher has it (counters already scaled by the sampling rate). */
export interface UsageRow {
  /** Bucket start, epoch seconds, a multiple of 60. */
  readonly minute: number;
  readonly subscriberId: string;
  /** Subscriber-side address as text (RFC 5952 for IPv6). */
  readonly address: string;
  readonly direction: Direction;
  readonly trafficClass: string;
  readonly bytes: bigint;
  readonly packets: bigint;
  readonly flows: bigint;
}

export interface UsageBatch {
  readonly batchId: string;
  readonly rows: readonly UsageRow[];
}

/** Whether a batch's rows are already in usage_1m (recorded by flush_batches_mv). */
export async function batchExists(ch: ClickHouse, batchId: string): Promise<boolean> {
  return (await existingBatches(ch, [batchId])).has(batchId);
}

/** The subset of `batchIds` already in usage_1m: one query for a group of batches. */
export async function existingBatches(ch: ClickHouse, batchIds: readonly string[]): Promise<Set<string>> {
  if (batchIds.length === 0) return new Set();
  const ids = batchIds.map((id) => str(requireText('batchId', id)));
  const rows = await ch.query<{ batch_id: string }>(
    sql`SELECT DISTINCT batch_id FROM flush_batches WHERE batch_id IN ${list(ids)}`,
  );
  return new Set(rows.map((row) => row.batch_id));
}

/** One INSERT of one batch's rows, each carrying `batchId`. */
export async function insertUsageBatch(ch: ClickHouse, batchId: string, rows: readonly UsageRow[]): Promise<void> {
  await insertUsageBatches(ch, [{ batchId, rows }]);
}

/**
 * One INSERT carrying several batches (the flusher groups up to ~50k rows). An INSERT of
 * fewer than max_insert_block_size (1,048,576) rows is one block: its usage rows become
 * one part per month partition, all or nothing, and flush_batches_mv writes the batches'
 * rows from the same block right after (README: the window between the two).
 * An empty batch is refused: it would never appear in flush_batches, so batchExists()
 * would stay false for it forever.
 */
export async function insertUsageBatches(ch: ClickHouse, batches: readonly UsageBatch[]): Promise<void> {
  const insertedAt = Math.floor(Date.now() / 1000);
  const records: object[] = [];
  const seen = new Set<string>();
  for (const batch of batches) {
    const batchId = requireText('batchId', batch.batchId);
    if (seen.has(batchId)) throw new UsageRangeError(`batch ${batchId} appears twice in one insert`);
    seen.add(batchId);
    if (batch.rows.length === 0) throw new UsageRangeError(`batch ${batchId} has no rows`);
    for (const row of batch.rows) records.push(toRecord(row, batchId, insertedAt));
  }
  if (records.length === 0) return;
  await ch.insert('usage_1m', records);
}

function toRecord(row: UsageRow, batchId: string, insertedAt: number): object {
  const minute = epoch('minute', row.minute);
  if (minute % 60 !== 0) throw new UsageRangeError(`minute=${minute} is not the start of a minute`);
  if (row.direction !== 'download' && row.direction !== 'upload') {
    throw new UsageRangeError(`direction must be download or upload, got ${JSON.stringify(row.direction)}`);
  }
  return {
    minute,
    subscriber_id: requireText('subscriberId', row.subscriberId),
    address: requireText('address', row.address),
    direction: row.direction,
    traffic_class: requireText('trafficClass', row.trafficClass),
    // As decimal strings: exact in JSON, parsed into UInt64 by ClickHouse.
    bytes: toUInt64(row.bytes).toString(),
    packets: toUInt64(row.packets).toString(),
    flows: toUInt64(row.flows).toString(),
    batch_id: batchId,
    inserted_at: insertedAt,
  };
}

function requireText(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageRangeError(`${name} must be a non-empty string`);
  if (value.length > 1024) throw new UsageRangeError(`${name} is longer than 1024 characters`);
  return value;
}

function epoch(name: string, value: number | Date): number {
  try {
    return toEpochSeconds(value);
  } catch (error) {
    throw new UsageRangeError(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function zero(): Counters {
  return { bytes: 0n, packets: 0n, flows: 0n };
}

function add(a: Counters, b: Counters): Counters {
  return { bytes: a.bytes + b.bytes, packets: a.packets + b.packets, flows: a.flows + b.flows };
}
