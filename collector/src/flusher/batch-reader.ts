/**
 * Reading a claimed batch: its minute hashes -> UsageRows -> insert parts.
 *
 * A claimed hash is never written again (pushes write the open name), so reading it twice
 * gives the same rows; sorting them and cutting at the batch's recorded chunkRows then
 * gives the same parts with the same ids, which is what lets a retry after a crash skip
 * exactly the parts already inserted.
 */
import type { Redis } from 'ioredis';
import { parseUsageField, type RedisKeys } from '../redis/index.js';
import type { BatchInfo } from './batch-scripts.js';
import type { UsageRow } from './usage-store.js';

/** Hashes up to this many fields are read with one HGETALL; larger ones with HSCAN pages. */
const HGETALL_MAX_FIELDS = 10_000;
const HSCAN_COUNT = 2_000;

/** A claimed hash holds something the push script never writes: the batch cannot be stored as is. */
export class MalformedBatchError extends Error {
  override readonly name = 'MalformedBatchError';
}

export interface InsertPart {
  /** `<batchId>.<index>`: the batch_id the part's rows carry in ClickHouse. */
  readonly partId: string;
  readonly rows: readonly UsageRow[];
}

export async function readBatchRows(redis: Redis, keys: RedisKeys, batch: BatchInfo): Promise<UsageRow[]> {
  const rows: UsageRow[] = [];
  for (const minute of [...batch.minutes].sort((a, b) => a - b)) {
    const fields = await readHash(redis, keys.claimed(batch.batchId, minute));
    rows.push(...rowsOfMinute(minute, fields, batch.batchId));
  }
  return rows;
}

/** Every field of a hash, HSCAN for big ones (HSCAN may repeat a field: the Map dedupes). */
async function readHash(redis: Redis, key: string): Promise<Map<string, string>> {
  const size = await redis.hlen(key);
  const fields = new Map<string, string>();
  if (size <= HGETALL_MAX_FIELDS) {
    for (const [field, value] of Object.entries(await redis.hgetall(key))) fields.set(field, value);
    return fields;
  }
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', HSCAN_COUNT);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  } while (cursor !== '0');
  return fields;
}

interface MutableRow {
  minute: number;
  subscriberId: string;
  address: string;
  direction: UsageRow['direction'];
  trafficClass: string;
  bytes: bigint;
  packets: bigint;
  flows: bigint;
}

/** One minute's fields (three per row: b, p, f; zero ones absent) as rows sorted by row key. */
function rowsOfMinute(minute: number, fields: ReadonlyMap<string, string>, batchId: string): UsageRow[] {
  const rows = new Map<string, MutableRow>();
  for (const [field, value] of fields) {
    const parsed = parseUsageField(field);
    if (parsed === null || !/^\d+$/.test(value)) {
      // Never skipped: that would lose usage silently. The batch stays in Redis, loudly failing.
      throw new MalformedBatchError(`batch ${batchId}, minute ${minute}: field ${JSON.stringify(field)} = ${JSON.stringify(value)} was not written by the push script`);
    }
    let row = rows.get(parsed.rowKey);
    if (row === undefined) {
      row = { minute, subscriberId: parsed.subscriberId, address: parsed.address, direction: parsed.direction, trafficClass: parsed.trafficClass, bytes: 0n, packets: 0n, flows: 0n };
      rows.set(parsed.rowKey, row);
    }
    const amount = BigInt(value);
    if (parsed.counter === 'b') row.bytes += amount;
    else if (parsed.counter === 'p') row.packets += amount;
    else row.flows += amount;
  }
  // Code-unit order (not locale order): the same on every flusher.
  return [...rows.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((key) => rows.get(key) as MutableRow);
}

/**
 * Cut rows (sorted by minute) into parts of at most chunkRows, also starting a new part at
 * each UTC month: usage_1m is partitioned by month, and an insert into one partition is
 * one part on disk, so a part never straddles two (needs a UTC server, as the schema does).
 */
export function splitIntoParts(batchId: string, rows: readonly UsageRow[], chunkRows: number): InsertPart[] {
  const parts: InsertPart[] = [];
  let current: UsageRow[] = [];
  let currentMonth = '';
  for (const row of rows) {
    const month = new Date(row.minute * 1000).toISOString().slice(0, 7);
    if (current.length >= chunkRows || (current.length > 0 && month !== currentMonth)) {
      parts.push({ partId: `${batchId}.${parts.length}`, rows: current });
      current = [];
    }
    currentMonth = month;
    current.push(row);
  }
  if (current.length > 0) parts.push({ partId: `${batchId}.${parts.length}`, rows: current });
  return parts;
}
