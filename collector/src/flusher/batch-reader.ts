/**
 * Reading a claimed batch: its minute strings -> UsageRows -> insert parts.
 *
 * A minute string is the usage lines of every push that wrote to the minute
 * (`<subscriber>\t<address>\t<direction>\t<class>\t<bytes>\t<packets>\t<flows>\n`, see
 * ../redis/keys.ts); the same row appears once per push that carried it, and this is where
 * those lines are summed. Big strings are read in GETRANGE pages, the line cut at a page
 * edge carried over to the next page.
 *
 * A claimed string is never appended again (pushes write the open name), so reading it
 * twice gives the same rows; sorting them and cutting at the batch's recorded chunkRows then
 * gives the same parts with the same ids, which is what lets a retry after a crash skip
 * exactly the parts already inserted.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/index.js';
import type { BatchInfo } from './batch-scripts.js';
import type { UsageRow } from './usage-store.js';

/** Strings up to this size are read with one GET, larger ones in GETRANGE pages of this size. */
export const DEFAULT_READ_PAGE_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A claimed string holds something the push script never writes: the batch cannot be stored as is. */
export class MalformedBatchError extends Error {
  override readonly name = 'MalformedBatchError';
}

export interface InsertPart {
  /** `<batchId>.<index>`: the batch_id the part's rows carry in ClickHouse. */
  readonly partId: string;
  readonly rows: readonly UsageRow[];
}

export interface ReadBatchOptions {
  /** GET up to this many bytes, GETRANGE pages of this size above (default 4 MiB). */
  readonly pageBytes?: number;
}

export async function readBatchRows(redis: Redis, keys: RedisKeys, batch: BatchInfo, options: ReadBatchOptions = {}): Promise<UsageRow[]> {
  const pageBytes = options.pageBytes ?? DEFAULT_READ_PAGE_BYTES;
  if (!Number.isInteger(pageBytes) || pageBytes < 1) throw new RangeError(`pageBytes must be a positive integer, got ${pageBytes}`);
  const rows: UsageRow[] = [];
  for (const minute of [...batch.minutes].sort((a, b) => a - b)) {
    const sums = new MinuteSums(batch.batchId, minute);
    await readLines(redis, keys.claimed(batch.batchId, minute), pageBytes, sums);
    // Not push(...rows): spreading a minute of 100 000+ rows overflows the call stack.
    for (const row of sums.rows()) rows.push(row);
  }
  return rows;
}

/**
 * Feed every complete line of a string to `sums`, page by page. A missing key reads as
 * empty (no rows). A string that changes length while being read
 * (only a takeover's cleanup deletes a claimed string) is an ordinary, retried error: the
 * lease check before any insert then finds the batch lost.
 */
async function readLines(redis: Redis, key: string, pageBytes: number, sums: MinuteSums): Promise<void> {
  const length = await redis.strlen(key);
  if (length === 0) return;
  let carry: Buffer | null = null;
  for (let offset = 0; offset < length; offset += pageBytes) {
    const end = Math.min(offset + pageBytes, length);
    const page = length <= pageBytes ? await redis.getBuffer(key) : await redis.getrangeBuffer(key, offset, end - 1);
    if (page === null || page.length !== end - offset) {
      throw new Error(`${key} changed while being read (bytes ${offset}-${end - 1} of ${length}, got ${page?.length ?? 'none'})`);
    }
    // '\n' is one byte that never occurs inside a multi-byte UTF-8 character, so cutting at
    // it never splits a character.
    const last = page.lastIndexOf(NEWLINE);
    if (last < 0) {
      carry = carry === null ? page : Buffer.concat([carry, page]);
      continue;
    }
    let from = 0;
    if (carry !== null) {
      // The line cut at the previous page edge: its start, then its end up to the first newline here.
      const first = page.indexOf(NEWLINE);
      sums.addLines(Buffer.concat([carry, page.subarray(0, first)]).toString('utf8'));
      from = first + 1;
    }
    if (from <= last) sums.addLines(page.toString('utf8', from, last));
    carry = last + 1 < page.length ? page.subarray(last + 1) : null;
  }
  if (carry !== null) sums.malformed(carry.toString('utf8'), 'has no newline at the end of the string', sums.linesRead + 1);
}

interface RowSum {
  readonly minute: number;
  readonly subscriberId: string;
  readonly address: string;
  readonly direction: UsageRow['direction'];
  readonly trafficClass: string;
  bytes: number | bigint;
  packets: number | bigint;
  flows: number | bigint;
}

/** A counter field's value: NOT_DECIMAL, TOO_LONG (to be read as bigint), or the number. */
const NOT_DECIMAL = -1;
const TOO_LONG = -2;

/**
 * One minute's lines summed per row key (numbers while exact, bigint past 2^53 - 1).
 *
 * The hot loop of the flusher (a minute of 10,000 subscribers at one push a second is over a
 * million lines), so lines are parsed in place by position, without splitting or slicing
 * anything but the row key; the rules are parseUsageLine's (../redis/keys.ts): exactly 7
 * tab-separated parts, direction download|upload, three counters of decimal digits.
 */
class MinuteSums {
  private readonly sums = new Map<string, RowSum>();
  /** Lines summed so far (the number of the last one). */
  linesRead = 0;

  constructor(
    private readonly batchId: string,
    private readonly minute: number,
  ) {}

  /** Complete lines separated by '\n' (the last one without it). */
  addLines(text: string): void {
    for (let start = 0; start <= text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      this.addLine(text, start, end);
      start = end + 1;
    }
  }

  private addLine(text: string, start: number, end: number): void {
    // Never skipped: that would lose usage silently. The batch stays in Redis, loudly failing.
    const t1 = tabIn(text, start, end);
    if (t1 < 0) this.badLine(text, start, end);
    const t2 = tabIn(text, t1 + 1, end);
    if (t2 < 0) this.badLine(text, start, end);
    const t3 = tabIn(text, t2 + 1, end);
    if (t3 < 0) this.badLine(text, start, end);
    const t4 = tabIn(text, t3 + 1, end);
    if (t4 < 0) this.badLine(text, start, end);
    const t5 = tabIn(text, t4 + 1, end);
    if (t5 < 0) this.badLine(text, start, end);
    const t6 = tabIn(text, t5 + 1, end);
    if (t6 < 0 || tabIn(text, t6 + 1, end) >= 0) this.badLine(text, start, end);
    const directionLength = t3 - t2 - 1;
    const direction = directionLength === 8 && text.startsWith('download', t2 + 1) ? 'download' : directionLength === 6 && text.startsWith('upload', t2 + 1) ? 'upload' : null;
    const bytes = decimal(text, t4 + 1, t5);
    const packets = decimal(text, t5 + 1, t6);
    const flows = decimal(text, t6 + 1, end);
    if (direction === null || bytes === NOT_DECIMAL || packets === NOT_DECIMAL || flows === NOT_DECIMAL) this.badLine(text, start, end);
    this.linesRead++;
    const rowKey = text.slice(start, t4);
    let sum = this.sums.get(rowKey);
    if (sum === undefined) {
      sum = { minute: this.minute, subscriberId: text.slice(start, t1), address: text.slice(t1 + 1, t2), direction, trafficClass: text.slice(t3 + 1, t4), bytes: 0, packets: 0, flows: 0 };
      this.sums.set(rowKey, sum);
    }
    sum.bytes = add(sum.bytes, bytes, text, t4 + 1, t5);
    sum.packets = add(sum.packets, packets, text, t5 + 1, t6);
    sum.flows = add(sum.flows, flows, text, t6 + 1, end);
  }

  private badLine(text: string, start: number, end: number): never {
    this.malformed(text.slice(start, end), 'was not written by the push script', this.linesRead + 1);
  }

  malformed(line: string, why: string, lineNumber: number): never {
    const shown = line.length > 200 ? `${JSON.stringify(line.slice(0, 200))}...` : JSON.stringify(line);
    throw new MalformedBatchError(`batch ${this.batchId}, minute ${this.minute}: line ${lineNumber} ${shown} ${why}`);
  }

  /** Rows in code-unit order of the row key (not locale order): the same on every flusher. */
  rows(): UsageRow[] {
    return [...this.sums.keys()]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((key) => {
        const sum = this.sums.get(key) as RowSum;
        return { ...sum, bytes: BigInt(sum.bytes), packets: BigInt(sum.packets), flows: BigInt(sum.flows) };
      });
  }
}

/** Position of the first tab in text[from, end), or -1. */
function tabIn(text: string, from: number, end: number): number {
  const at = text.indexOf('\t', from);
  return at >= 0 && at < end ? at : -1;
}

/** Decimal digits in text[from, to): their value if under 16 digits (exact in a double), TOO_LONG, or NOT_DECIMAL. */
function decimal(text: string, from: number, to: number): number {
  if (from >= to) return NOT_DECIMAL;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NOT_DECIMAL;
    value = value * 10 + digit;
  }
  return to - from > 15 ? TOO_LONG : value;
}

/** `current + value` (text[from, to) when TOO_LONG), exact: in numbers while the sum is a safe integer, else in bigint. */
function add(current: number | bigint, value: number, text: string, from: number, to: number): number | bigint {
  if (typeof current === 'number' && value !== TOO_LONG) {
    // Both below 2^53: a computed sum that is still safe is the exact sum.
    const sum = current + value;
    if (sum <= MAX_SAFE) return sum;
    return BigInt(current) + BigInt(value);
  }
  return BigInt(current) + (value === TOO_LONG ? BigInt(text.slice(from, to)) : BigInt(value));
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
