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

  /** Hash of one open minute: usage field -> integer. */
  minute(minute: number): string {
    return `${this.base}m:${minute}`;
  }

  /** Sorted set: minutes that have an open hash, score = minute. */
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

  /** A minute's hash after a batch claimed it (renamed from minute(minute)). */
  claimed(batchId: string, minute: number): string {
    return `${this.base}f:${checkId('batchId', batchId)}:${minute}`;
  }
}

export function checkId(what: string, id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError(`${what} must be 1-128 letters, digits, _ . -, got ${JSON.stringify(id)}`);
  return id;
}

/** Counter letter in a minute hash field. */
export type UsageCounter = 'b' | 'p' | 'f';

/** `<subscriber>\t<address>\t<direction>\t<class>\t<b|p|f>`; parts never contain a tab (the aggregator refuses those). */
export function usageField(subscriberId: string, address: string, direction: Direction, trafficClass: string, counter: UsageCounter): string {
  return `${subscriberId}\t${address}\t${direction}\t${trafficClass}\t${counter}`;
}

export interface ParsedUsageField {
  /** The row part: `<subscriber>\t<address>\t<direction>\t<class>`. */
  readonly rowKey: string;
  readonly subscriberId: string;
  readonly address: string;
  readonly direction: Direction;
  readonly trafficClass: string;
  readonly counter: UsageCounter;
}

/** Inverse of usageField; null for a field this layout never writes. */
export function parseUsageField(field: string): ParsedUsageField | null {
  const parts = field.split('\t');
  if (parts.length !== 5) return null;
  const [subscriberId, address, direction, trafficClass, counter] = parts;
  if (direction !== 'download' && direction !== 'upload') return null;
  if (counter !== 'b' && counter !== 'p' && counter !== 'f') return null;
  return { rowKey: field.slice(0, field.length - 2), subscriberId, address, direction, trafficClass, counter };
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
