/**
 * Redis key layout (docs/ingestion-design.md, "Redis layout"; README.md here).
 *
 * Every key is `<prefix>{u}:...`: the `{u}` hash tag puts all of them in one Redis
 * Cluster slot, which is what makes the multi-key Lua scripts legal on a cluster (every
 * key they touch is also passed in KEYS for the same reason).
 */
import type { Direction } from '../attribution/index.js';

/** Same rule as REDIS_PREFIX in shared/src/config/stores.ts; braces would move the hash tag. */
const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{0,64}$/;
/** Collector ids and batch ids appear inside keys and are split on ':'/'\t' nowhere, but keep them plain. */
const ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export class RedisKeys {
  readonly prefix: string;
  private readonly base: string;

  constructor(prefix: string) {
    if (!PREFIX_PATTERN.test(prefix)) throw new RangeError(`Redis prefix must be letters, digits, _ . : - (at most 64), got ${JSON.stringify(prefix)}`);
    this.prefix = prefix;
    this.base = `${prefix}{u}:`;
  }

  /** String of one open minute: the usage lines every push appended to it (see usageLine). */
  minute(minute: number): string {
    return `${this.base}m:${minute}`;
  }

  /** Sorted set: minutes that have an open minute string, score = minute. */
  get minutes(): string {
    return `${this.base}minutes`;
  }

  /** Hash: accepted field -> total acknowledged. */
  get accepted(): string {
    return `${this.base}accepted`;
  }

  /** String: the highest push seq applied for one sink run (see push-script.ts). */
  pushSeq(collectorId: string, runId: string): string {
    return `${this.base}push:${checkId('collectorId', collectorId)}:${checkId('runId', runId)}`;
  }

  /** Sorted set: batchId -> lease expiry (ms, Redis clock). */
  get flushing(): string {
    return `${this.base}flushing`;
  }

  /** Hash describing a claimed batch: owner, minutes, chunkRows, ... */
  batch(batchId: string): string {
    return `${this.base}b:${checkId('batchId', batchId)}`;
  }

  /** A minute's string after a batch claimed it (renamed from minute(minute)); never appended again. */
  claimed(batchId: string, minute: number): string {
    return `${this.base}f:${checkId('batchId', batchId)}:${minute}`;
  }
}

export function checkId(what: string, id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError(`${what} must be 1-128 letters, digits, _ . -, got ${JSON.stringify(id)}`);
  return id;
}

/**
 * One usage line of a minute string (no trailing newline here; the string holds each line
 * followed by `\n`): `<subscriber>\t<address>\t<direction>\t<class>\t<bytes>\t<packets>\t<flows>`,
 * counters as decimal integers. Text parts never contain a tab or newline (the aggregator
 * refuses those), so the line splits unambiguously. push.ts builds the same text inline.
 */
export function usageLine(
  subscriberId: string,
  address: string,
  direction: Direction,
  trafficClass: string,
  bytes: bigint | number,
  packets: bigint | number,
  flows: bigint | number,
): string {
  return `${subscriberId}\t${address}\t${direction}\t${trafficClass}\t${bytes}\t${packets}\t${flows}`;
}

export interface ParsedUsageLine {
  /** The row part: `<subscriber>\t<address>\t<direction>\t<class>` (what the flusher sums by). */
  readonly rowKey: string;
  readonly subscriberId: string;
  readonly address: string;
  readonly direction: Direction;
  readonly trafficClass: string;
  /** Decimal digits, any length (sums of lines can pass 2^53; one line never does in practice). */
  readonly bytes: string;
  readonly packets: string;
  readonly flows: string;
}

const DIGITS = /^\d+$/;

/**
 * Inverse of usageLine (a line without its newline). Strict: exactly 7 tab-separated parts,
 * direction download|upload, three counters of decimal digits; null for anything else.
 */
export function parseUsageLine(line: string): ParsedUsageLine | null {
  const t1 = line.indexOf('\t');
  const t2 = t1 < 0 ? -1 : line.indexOf('\t', t1 + 1);
  const t3 = t2 < 0 ? -1 : line.indexOf('\t', t2 + 1);
  const t4 = t3 < 0 ? -1 : line.indexOf('\t', t3 + 1);
  const t5 = t4 < 0 ? -1 : line.indexOf('\t', t4 + 1);
  const t6 = t5 < 0 ? -1 : line.indexOf('\t', t5 + 1);
  if (t6 < 0 || line.indexOf('\t', t6 + 1) >= 0) return null;
  const direction = line.slice(t2 + 1, t3);
  if (direction !== 'download' && direction !== 'upload') return null;
  const bytes = line.slice(t4 + 1, t5);
  const packets = line.slice(t5 + 1, t6);
  const flows = line.slice(t6 + 1);
  if (!DIGITS.test(bytes) || !DIGITS.test(packets) || !DIGITS.test(flows)) return null;
  return {
    rowKey: line.slice(0, t4),
    subscriberId: line.slice(0, t1),
    address: line.slice(t1 + 1, t2),
    direction,
    trafficClass: line.slice(t3 + 1, t4),
    bytes,
    packets,
    flows,
  };
}

export type AcceptedCounter = 'bytes' | 'packets' | 'flows';

/**
 * `<exporter>\t<YYYY-MM-DD>\t<bytes|packets|flows>`: per exporter and UTC day of the
 * usage minute. The day keeps every total far below HINCRBY's 2^63 limit (a lifetime total
 * per exporter would reach it) and lets a reconciliation compare against usage_1d.
 */
export function acceptedField(exporter: string, day: string, counter: AcceptedCounter): string {
  return `${exporter}\t${day}\t${counter}`;
}

export function parseAcceptedField(field: string): { exporter: string; day: string; counter: AcceptedCounter } | null {
  const parts = field.split('\t');
  if (parts.length !== 3) return null;
  const [exporter, day, counter] = parts;
  if (counter !== 'bytes' && counter !== 'packets' && counter !== 'flows') return null;
  return { exporter, day, counter };
}

/** UTC day (YYYY-MM-DD) of a minute given in epoch seconds. */
export function utcDay(minute: number): string {
  return new Date(minute * 1000).toISOString().slice(0, 10);
}
