/**
 * MinuteAggregator: attributed flows -> per-minute counters, in process memory.
 *
 * Each flow is spread over the UTC minutes it spans (spreadOverMinutes, largest
 * remainder, exact bigint), and counted as one flow in its start minute. Counters
 * accumulate in a Map keyed by (exporter, subscriber, address, minute, direction, class)
 * until `drain` hands them on (to RedisUsageSink) and forgets them.
 *
 * Memory is bounded by the caller draining: `full` turns true at `maxKeys` entries, and
 * `onFull` fires right then so a service can drain early instead of waiting for its timer.
 * One flow adds at most `maxMinutes` keys, so the map never exceeds maxKeys + maxMinutes
 * when `onFull` drains.
 *
 * Pure: no I/O, no clocks (times come from the records). Nothing is dropped silently:
 * records that cannot be placed are counted in `anomalies`.
 *
 * Hot path (bench/RESULTS.md, "Ingestion"): `add` is called once per attributed record,
 * a million times a second at the target rate, so it avoids what allocates per record:
 * - counters accumulate as exact safe-integer numbers, with a bigint carry taken only
 *   when a sum would pass 2^53 - 1; shares of a flow spanning minutes are computed in
 *   numbers when `total x weights` stays exact, with the bigint spreader otherwise (the
 *   results are identical: same largest-remainder rule, same tie-break);
 * - an IPv4 attribution finds its entry through an open-addressing cache keyed by the
 *   numeric address, minute, exporter id and direction (subscriber and class compared on
 *   the entry; EntryCache), so the address text and the key text are built only when an
 *   entry is created.
 * The map of entries by key text stays the one source of truth (addRecord and add share
 * it; drain order is creation order); the cache only points into it.
 */
import { formatIpv4 } from '@flowbill/shared/ip/index';
import { type AttributedFlow, DEFAULT_MAX_MINUTES, type Direction, MINUTE_MS, minuteStartOf, minutesSpanned, spreadOverMinutes, subscriberAddressText } from '../attribution/index.js';
import { hasSeparator, type UsageEntry, usageKeyText } from './usage-entry.js';

/** A flow with its attribution, as plain fields (what `add` extracts from an AttributedFlow). */
export interface UsageRecord {
  readonly exporter: string;
  readonly subscriberId: string;
  readonly address: string;
  readonly direction: Direction;
  readonly trafficClass: string;
  /** ms since epoch. */
  readonly start: number;
  readonly end: number;
  /** Sampling-scaled. */
  readonly bytes: bigint;
  readonly packets: bigint;
}

export interface MinuteAggregatorOptions {
  /** `full` from this many entries on (default 100 000). */
  readonly maxKeys?: number;
  /** Called (synchronously, inside add) whenever an add leaves the map full. */
  readonly onFull?: (aggregator: MinuteAggregator) => void;
  /** Label of a dense exporter id in the accepted totals (default: the id as text). */
  readonly exporterLabel?: (exporterId: number) => string;
  /**
   * Flows spanning more minutes than this are put wholly into their start minute (and
   * counted in anomalies.clampedRecords): a corrupt end time must not create a million
   * buckets, and moving the bytes in time bills them, where refusing would lose them.
   */
  readonly maxMinutes?: number;
}

/** What could not be aggregated as given; exposed so nothing disappears silently. */
export interface AggregationAnomalies {
  /** Records spread wholly into their start minute because their span exceeded maxMinutes. */
  clampedRecords: number;
  /** Records refused: non-finite start, negative counters, or a tab/newline in a key part. */
  rejectedRecords: number;
  rejectedBytes: bigint;
  rejectedPackets: bigint;
}

export const DEFAULT_AGGREGATOR_MAX_KEYS = 100_000;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * One entry while it accumulates. Each counter is `number part + bigint part`: the number
 * part takes increments while it stays a safe integer; on the way past 2^53 - 1 it is
 * moved into the bigint part (exact, since both operands are safe integers).
 */
class Slot {
  bytes = 0;
  packets = 0;
  flows = 0;
  bytesBig = 0n;
  packetsBig = 0n;
  constructor(
    readonly exporter: string,
    readonly subscriberId: string,
    readonly address: string,
    /** Epoch seconds. */
    readonly minute: number,
    readonly direction: Direction,
    readonly trafficClass: string,
  ) {}

  /** `bytes`, `packets`: non-negative safe integers; `flows`: 0 or 1. */
  addNumbers(bytes: number, packets: number, flows: number): void {
    const b = this.bytes + bytes;
    if (b <= MAX_SAFE) this.bytes = b;
    else {
      this.bytesBig += BigInt(this.bytes) + BigInt(bytes);
      this.bytes = 0;
    }
    const p = this.packets + packets;
    if (p <= MAX_SAFE) this.packets = p;
    else {
      this.packetsBig += BigInt(this.packets) + BigInt(packets);
      this.packets = 0;
    }
    this.flows += flows;
  }

  /** Non-negative bigints of any size. */
  addBigints(bytes: bigint, packets: bigint, flows: number): void {
    if (bytes <= MAX_SAFE_BIG) this.addNumbers(Number(bytes), 0, 0);
    else this.bytesBig += bytes;
    if (packets <= MAX_SAFE_BIG) this.addNumbers(0, Number(packets), 0);
    else this.packetsBig += packets;
    this.flows += flows;
  }

  toEntry(): UsageEntry {
    return {
      exporter: this.exporter,
      subscriberId: this.subscriberId,
      address: this.address,
      minute: this.minute,
      direction: this.direction,
      trafficClass: this.trafficClass,
      bytes: BigInt(this.bytes) + this.bytesBig,
      packets: BigInt(this.packets) + this.packetsBig,
      flows: BigInt(this.flows),
    };
  }
}

/**
 * Open-addressing cache from an IPv4 attribution's numeric identity (address, minute,
 * exporter id and direction) to its entry; the subscriber and class are compared on the
 * entry itself. Rows of four int32 in one typed array (address, minute index, exporter id
 * x 2 + direction, entry number + 1; 0 = empty), so a lookup touches one cache line of the
 * table, one of the entry list and the entry: the records of 10,000 subscribers do not fit
 * in a core's cache, and every line touched is a memory round trip.
 */
class EntryCache {
  private rows = new Int32Array(4 * 4096);
  private mask = 4095;
  private slots: Slot[] = [];

  get size(): number {
    return this.slots.length;
  }

  find(address: number, minuteIndex: number, exporterDirection: number, subscriberId: string, trafficClass: string): Slot | undefined {
    const rows = this.rows;
    for (let i = hashIdentity(address, minuteIndex, exporterDirection) & this.mask; ; i = (i + 1) & this.mask) {
      const at = i << 2;
      const n = rows[at + 3];
      if (n === 0) return undefined;
      if (rows[at] === address && rows[at + 1] === minuteIndex && rows[at + 2] === exporterDirection) {
        const slot = this.slots[n - 1];
        if (slot.subscriberId === subscriberId && slot.trafficClass === trafficClass) return slot;
      }
    }
  }

  insert(address: number, minuteIndex: number, exporterDirection: number, slot: Slot): void {
    if ((this.slots.length + 1) * 2 > this.mask + 1) this.grow();
    this.slots.push(slot);
    this.place(address, minuteIndex, exporterDirection, this.slots.length);
  }

  clear(): void {
    if (this.slots.length === 0) return;
    this.slots = [];
    this.rows.fill(0);
  }

  private place(address: number, minuteIndex: number, exporterDirection: number, n: number): void {
    const rows = this.rows;
    let i = hashIdentity(address, minuteIndex, exporterDirection) & this.mask;
    while (rows[(i << 2) + 3] !== 0) i = (i + 1) & this.mask;
    const at = i << 2;
    rows[at] = address;
    rows[at + 1] = minuteIndex;
    rows[at + 2] = exporterDirection;
    rows[at + 3] = n;
  }

  private grow(): void {
    const old = this.rows;
    this.mask = this.mask * 2 + 1;
    this.rows = new Int32Array(4 * (this.mask + 1));
    for (let at = 0; at < old.length; at += 4) if (old[at + 3] !== 0) this.place(old[at], old[at + 1], old[at + 2], old[at + 3]);
  }
}

function hashIdentity(address: number, minuteIndex: number, exporterDirection: number): number {
  let h = Math.imul(address ^ Math.imul(minuteIndex, 0x9e3779b1) ^ Math.imul(exporterDirection, 0x85ebca77), 0xc2b2ae3d);
  h ^= h >>> 15;
  return h;
}

export class MinuteAggregator {
  readonly maxKeys: number;
  readonly maxMinutes: number;
  readonly anomalies: AggregationAnomalies = { clampedRecords: 0, rejectedRecords: 0, rejectedBytes: 0n, rejectedPackets: 0n };
  /** Entries by key text (usageKeyText), in creation order. */
  private entries = new Map<string, Slot>();
  /** IPv4 attributions -> their entries, without building the key text. Cleared by drain. */
  private readonly cache = new EntryCache();
  private readonly onFull: ((aggregator: MinuteAggregator) => void) | undefined;
  private readonly exporterLabel: (exporterId: number) => string;
  /** Labels of dense exporter ids (the decoder's), and of any other id. */
  private readonly exporterLabels: string[] = [];
  private readonly otherExporterLabels = new Map<number, string>();

  // The record being added: set before spreading, read by slotFor, so spreading
  // allocates no closure per record.
  private exporter = '';
  /** Exporter id of an IPv4 attribution (cache usable); -1 otherwise. */
  private exporterId = -1;
  private address4 = 0;
  /** Address text; null until needed (a cache hit never needs it). */
  private address: string | null = null;
  private subscriberId = '';
  private direction: Direction = 'download';
  private trafficClass = '';
  /** Key parts checked for separators (done when an entry has to be found by key text). */
  private checked = false;
  private startMinute = 0;
  private flowCounted = false;
  private readonly addShare = (minuteStartMs: number, bytes: bigint, packets: bigint): void => {
    let flows = 0;
    if (!this.flowCounted && minuteStartMs === this.startMinute) {
      flows = 1;
      this.flowCounted = true;
    }
    // Parts were checked before the bigint spreader runs, so there is always a slot.
    this.slotFor(minuteStartMs / 1000)!.addBigints(bytes, packets, flows);
  };
  // Scratch for spreading in numbers.
  private readonly weights: Float64Array;
  private readonly byteShares: Float64Array;
  private readonly packetShares: Float64Array;
  private readonly remainders: Float64Array;

  constructor(options: MinuteAggregatorOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_AGGREGATOR_MAX_KEYS;
    this.maxMinutes = options.maxMinutes ?? DEFAULT_MAX_MINUTES;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${this.maxKeys}`);
    if (!Number.isInteger(this.maxMinutes) || this.maxMinutes < 1) throw new RangeError(`maxMinutes must be a positive integer, got ${this.maxMinutes}`);
    this.onFull = options.onFull;
    this.exporterLabel = options.exporterLabel ?? ((id) => String(id));
    // Flows over more minutes than this (only with a maxMinutes above the default) take the bigint path.
    const scratch = Math.min(this.maxMinutes, DEFAULT_MAX_MINUTES);
    this.weights = new Float64Array(scratch);
    this.byteShares = new Float64Array(scratch);
    this.packetShares = new Float64Array(scratch);
    this.remainders = new Float64Array(scratch);
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.maxKeys;
  }

  /** Add one attribution (a BatchAttributor sink call); copies what it keeps. */
  add(flow: Readonly<AttributedFlow>): void {
    const id = flow.exporterId;
    const dense = id >= 0 && id < 1 << 20 && Number.isInteger(id);
    let exporter = dense ? this.exporterLabels[id] : this.otherExporterLabels.get(id);
    if (exporter === undefined) {
      exporter = this.exporterLabel(id);
      if (dense) this.exporterLabels[id] = exporter;
      else this.otherExporterLabels.set(id, exporter);
    }
    // Counters as numbers: BatchAttributor provides them (bytesNumber, -1 when not a safe
    // integer); for other flows they are taken from the bigints.
    const bytes = flow.bytesNumber ?? safeNumber(flow.bytes);
    const packets = flow.packetsNumber ?? safeNumber(flow.packets);
    if (bytes < 0 || packets < 0 || !Number.isFinite(flow.start)) {
      this.addParts(exporter, flow.subscriberId, subscriberAddressText(flow), flow.direction, flow.trafficClass, flow.start, flow.end, flow.bytes, flow.packets);
      return;
    }
    this.exporter = exporter;
    if (flow.address6 === null) {
      this.exporterId = id;
      this.address4 = flow.address4 | 0;
      this.address = null;
    } else {
      this.exporterId = -1;
      this.address = subscriberAddressText(flow);
    }
    this.subscriberId = flow.subscriberId;
    this.direction = flow.direction;
    this.trafficClass = flow.trafficClass;
    this.checked = false;
    this.addNumbers(flow.start, flow.end, bytes, packets);
  }

  addRecord(record: Readonly<UsageRecord>): void {
    this.addParts(record.exporter, record.subscriberId, record.address, record.direction, record.trafficClass, record.start, record.end, record.bytes, record.packets);
  }

  /**
   * Remove and return up to `maxKeys` entries (all by default), oldest key first. The
   * returned objects are no longer referenced by the aggregator.
   */
  drain(maxKeys = Number.POSITIVE_INFINITY): UsageEntry[] {
    if (maxKeys >= this.entries.size) {
      const all: UsageEntry[] = new Array(this.entries.size);
      let k = 0;
      for (const slot of this.entries.values()) all[k++] = slot.toEntry();
      this.entries = new Map();
      this.cache.clear();
      return all;
    }
    const taken: UsageEntry[] = [];
    for (const [key, slot] of this.entries) {
      if (taken.length >= maxKeys) break;
      taken.push(slot.toEntry());
      this.entries.delete(key);
    }
    // The cache may point at drained entries: start it afresh (it refills from `entries`).
    this.cache.clear();
    return taken;
  }

  /**
   * The entry of the current record in `minute` (epoch s), created if missing; null when a
   * key part contains a separator (the record must be refused; this can only happen on the
   * record's first lookup, before anything of it was accumulated).
   */
  private slotFor(minute: number): Slot | null {
    const id = this.exporterId;
    // Minute index and exporter/direction as int32 for the cache (what does not fit skips it).
    const exporterDirection = id >= 0 && id < 1 << 30 && minute > -1e11 && minute < 1e11 ? id * 2 + (this.direction === 'upload' ? 1 : 0) : -1;
    if (exporterDirection >= 0) {
      const slot = this.cache.find(this.address4, minute / 60, exporterDirection, this.subscriberId, this.trafficClass);
      if (slot !== undefined) {
        this.checked = true;
        return slot;
      }
    }
    if (!this.checked && !this.partsValid()) return null;
    const address = this.address ?? (this.address = formatIpv4(this.address4 >>> 0));
    const key = usageKeyText(this.exporter, this.subscriberId, address, this.direction, this.trafficClass, minute);
    let slot = this.entries.get(key);
    if (slot === undefined) {
      slot = new Slot(this.exporter, this.subscriberId, address, minute, this.direction, this.trafficClass);
      this.entries.set(key, slot);
    }
    if (exporterDirection >= 0) this.cache.insert(this.address4, minute / 60, exporterDirection, slot);
    return slot;
  }

  /** Refuse the current record (a key part contains a separator). */
  private reject(bytes: number | bigint, packets: number | bigint): void {
    this.anomalies.rejectedRecords++;
    if (bytes > 0) this.anomalies.rejectedBytes += BigInt(bytes);
    if (packets > 0) this.anomalies.rejectedPackets += BigInt(packets);
  }

  /**
   * Spread the current record in numbers: `start` finite, counters non-negative safe
   * integers. Same results as spreadOverMinutes + the flow counting of addParts.
   */
  private addNumbers(start: number, end: number, bytes: number, packets: number): void {
    const firstMinute = minuteStartOf(start);
    let minutes = minutesSpanned(start, end);
    const clamped = minutes > this.maxMinutes;
    if (clamped) minutes = 1;
    const startMicros = Math.round(start * 1000);
    const endMicros = Math.round(end * 1000);
    if (minutes === 1 || endMicros <= startMicros) {
      // The whole flow in its start minute (with its flow count, whether or not it has bytes).
      const slot = this.slotFor(firstMinute / 1000);
      if (slot === null) return this.reject(bytes, packets);
      slot.addNumbers(bytes, packets, 1);
    } else {
      // Weights sum to endMicros - startMicros; with (total + 1) * that within 2^53 - 1, every
      // product, quotient and remainder of the split is exact in doubles.
      const span = endMicros - startMicros;
      if (minutes > this.weights.length || (bytes + 1) * span > MAX_SAFE || (packets + 1) * span > MAX_SAFE) {
        if (!this.partsValid()) return this.reject(bytes, packets);
        this.startMinute = firstMinute;
        this.flowCounted = false;
        spreadOverMinutes(start, end, BigInt(bytes), BigInt(packets), this.addShare, this.maxMinutes);
        if (!this.flowCounted) this.slotFor(firstMinute / 1000)!.addNumbers(0, 0, 1);
        if (clamped) this.anomalies.clampedRecords++;
        if (this.onFull !== undefined && this.entries.size >= this.maxKeys) this.onFull(this);
        return;
      }
      if (minutes === 2) return this.addTwoMinutes(firstMinute, startMicros, endMicros, bytes, packets, clamped);
      const weights = this.weights;
      let weightSum = 0;
      for (let k = 0; k < minutes; k++) {
        const bucketStartMicros = (firstMinute + k * MINUTE_MS) * 1000;
        const from = Math.max(startMicros, bucketStartMicros);
        const to = Math.min(endMicros, bucketStartMicros + MINUTE_MS * 1000);
        const w = Math.max(0, to - from);
        weights[k] = w;
        weightSum += w;
      }
      splitNumbers(bytes, weights, weightSum, minutes, this.byteShares, this.remainders);
      splitNumbers(packets, weights, weightSum, minutes, this.packetShares, this.remainders);
      let flowCounted = false;
      for (let k = 0; k < minutes; k++) {
        const b = this.byteShares[k];
        const p = this.packetShares[k];
        if (b === 0 && p === 0) continue;
        const slot = this.slotFor((firstMinute + k * MINUTE_MS) / 1000);
        if (slot === null) return this.reject(bytes, packets);
        slot.addNumbers(b, p, k === 0 ? 1 : 0);
        if (k === 0) flowCounted = true;
      }
      if (!flowCounted) {
        const slot = this.slotFor(firstMinute / 1000);
        if (slot === null) return this.reject(bytes, packets);
        slot.addNumbers(0, 0, 1);
      }
    }
    if (clamped) this.anomalies.clampedRecords++;
    if (this.onFull !== undefined && this.entries.size >= this.maxKeys) this.onFull(this);
  }

  /**
   * addNumbers for a flow over two minutes (the common multi-minute case) without the
   * scratch arrays: the same largest-remainder split, written out for two parts.
   */
  private addTwoMinutes(firstMinute: number, startMicros: number, endMicros: number, bytes: number, packets: number, clamped: boolean): void {
    const boundaryMicros = (firstMinute + MINUTE_MS) * 1000;
    const w0 = Math.max(0, Math.min(endMicros, boundaryMicros) - startMicros);
    const w1 = Math.max(0, endMicros - Math.max(startMicros, boundaryMicros));
    const weightSum = w0 + w1;
    const b0 = firstShareOfTwo(bytes, w0, w1, weightSum);
    const p0 = firstShareOfTwo(packets, w0, w1, weightSum);
    let flowCounted = false;
    if (b0 !== 0 || p0 !== 0) {
      const slot = this.slotFor(firstMinute / 1000);
      if (slot === null) return this.reject(bytes, packets);
      slot.addNumbers(b0, p0, 1);
      flowCounted = true;
    }
    const b1 = bytes - b0;
    const p1 = packets - p0;
    if (b1 !== 0 || p1 !== 0) {
      const slot = this.slotFor((firstMinute + MINUTE_MS) / 1000);
      if (slot === null) return this.reject(bytes, packets);
      slot.addNumbers(b1, p1, 0);
    }
    if (!flowCounted) {
      const slot = this.slotFor(firstMinute / 1000);
      if (slot === null) return this.reject(bytes, packets);
      slot.addNumbers(0, 0, 1);
    }
    if (clamped) this.anomalies.clampedRecords++;
    if (this.onFull !== undefined && this.entries.size >= this.maxKeys) this.onFull(this);
  }

  private partsValid(): boolean {
    if (this.checked) return true;
    if (hasSeparator(this.exporter) || hasSeparator(this.subscriberId) || hasSeparator(this.trafficClass)) return false;
    if (this.address !== null && hasSeparator(this.address)) return false;
    this.checked = true;
    return true;
  }

  /** The general path (addRecord, and counters that are not safe integers): bigint spreading. */
  private addParts(
    exporter: string,
    subscriberId: string,
    address: string,
    direction: Direction,
    trafficClass: string,
    start: number,
    end: number,
    bytes: bigint,
    packets: bigint,
  ): void {
    this.exporter = exporter;
    this.exporterId = -1;
    this.address = address;
    this.subscriberId = subscriberId;
    this.direction = direction;
    this.trafficClass = trafficClass;
    this.checked = false;
    if (!Number.isFinite(start) || bytes < 0n || packets < 0n || !this.partsValid()) {
      this.anomalies.rejectedRecords++;
      if (bytes > 0n) this.anomalies.rejectedBytes += bytes;
      if (packets > 0n) this.anomalies.rejectedPackets += packets;
      return;
    }
    if (bytes <= MAX_SAFE_BIG && packets <= MAX_SAFE_BIG) {
      this.addNumbers(start, end, Number(bytes), Number(packets));
      return;
    }
    this.startMinute = minuteStartOf(start);
    this.flowCounted = false;
    let spreadEnd = end;
    if (minutesSpanned(start, end) > this.maxMinutes) {
      this.anomalies.clampedRecords++;
      spreadEnd = start;
    }
    spreadOverMinutes(start, spreadEnd, bytes, packets, this.addShare, this.maxMinutes);
    // A flow whose start minute got no share (zero counters, or a share rounded to 0)
    // is still one flow of its start minute.
    if (!this.flowCounted) this.slotFor(this.startMinute / 1000)!.addNumbers(0, 0, 1);
    if (this.onFull !== undefined && this.entries.size >= this.maxKeys) this.onFull(this);
  }
}

/** `value` as a number when it is a non-negative safe integer, else -1. */
function safeNumber(value: bigint): number {
  return value >= 0n && value <= MAX_SAFE_BIG ? Number(value) : -1;
}

/**
 * The first of two largest-remainder parts of `total` for weights w0, w1 (sum > 0; the
 * caller guarantees (total + 1) * sum <= 2^53 - 1): floor of its quota, plus the one
 * leftover unit if its remainder is the larger (or equal: the earlier part wins ties).
 */
function firstShareOfTwo(total: number, w0: number, w1: number, weightSum: number): number {
  const s0 = total * w0;
  let q0 = Math.floor(s0 / weightSum);
  let r0 = s0 - q0 * weightSum;
  if (r0 < 0) {
    q0--;
    r0 += weightSum;
  } else if (r0 >= weightSum) {
    q0++;
    r0 -= weightSum;
  }
  const s1 = total * w1;
  let q1 = Math.floor(s1 / weightSum);
  let r1 = s1 - q1 * weightSum;
  if (r1 < 0) {
    q1--;
    r1 += weightSum;
  } else if (r1 >= weightSum) {
    q1++;
    r1 -= weightSum;
  }
  // The leftover is total - q0 - q1, 0 or 1 (remainders sum to leftover x weightSum).
  return total - q0 - q1 > 0 && r0 >= r1 ? q0 + 1 : q0;
}

/**
 * splitByLargestRemainder (spread.ts) in numbers, into `parts[0..count)`: each part the
 * floor of its quota, the leftover units one each to the largest remainders, the earliest
 * part first on ties. Caller guarantees (total + 1) * weightSum <= 2^53 - 1 and
 * weightSum > 0, so every product, quotient and remainder here is an exact integer.
 */
function splitNumbers(total: number, weights: Float64Array, weightSum: number, count: number, parts: Float64Array, remainders: Float64Array): void {
  let assigned = 0;
  for (let k = 0; k < count; k++) {
    const scaled = total * weights[k];
    let q = Math.floor(scaled / weightSum);
    let r = scaled - q * weightSum;
    // The double quotient can round across an integer: correct with the exact remainder.
    if (r < 0) {
      q--;
      r += weightSum;
    } else if (r >= weightSum) {
      q++;
      r -= weightSum;
    }
    parts[k] = q;
    remainders[k] = r;
    assigned += q;
  }
  for (let leftover = total - assigned; leftover > 0; leftover--) {
    let best = -1;
    for (let k = 0; k < count; k++) if (remainders[k] >= 0 && (best < 0 || remainders[k] > remainders[best])) best = k;
    parts[best] += 1;
    remainders[best] = -1;
  }
}
