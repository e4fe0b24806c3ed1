/**
 * MinuteAggregator: attributed flows -> per-minute counters, in process memory.
 *
 * Each flow is spread over the UTC minutes it spans (largest remainder, exact), and
 * counted as one flow in its start minute. Counters accumulate per key (exporter,
 * subscriber, address, minute, direction, class) until `drain` hands them on (to
 * RedisUsageSink) and forgets them.
 *
 * Memory is bounded by the caller draining: `full` turns true at `maxKeys` entries, and
 * `onFull` fires right then so a service can drain early instead of waiting for its timer.
 * One flow adds at most `maxMinutes` keys, so the table never exceeds maxKeys + maxMinutes
 * when `onFull` drains.
 *
 * Pure: no I/O, no clocks (times come from the records). Nothing is dropped silently:
 * records that cannot be placed are counted in `anomalies`.
 *
 * Hot path (bench/RESULTS.md, "Ingestion"): `add` runs once per attributed record, a
 * million times a second at the target rate, and with 10,000 subscribers the entries do not
 * fit in a core's cache, so every memory line touched per record is a round trip. Hence:
 * - an entry is one row of 8 doubles (64 bytes, one cache line) in a Float64Array: the five
 *   key parts as numbers (IPv4 address or interned address text, minute, and interned
 *   exporter, subscriber, direction + class) and the three counters; a record touches one
 *   slot of the open-addressing index (Int32Array) and one row, and allocates nothing;
 * - text parts (subscriber ids, classes, exporter labels, non-IPv4 addresses) are interned
 *   once and checked for separators then, not per record; the text of an entry is only
 *   built when it is drained;
 * - counters are exact safe-integer doubles, with a bigint carry per entry taken only when a
 *   sum would pass 2^53 - 1; shares of a flow spanning minutes are computed in numbers when
 *   `(total + 1) x span` is exact in doubles (two-minute flows by a closed form), otherwise by
 *   the bigint spreader — same largest-remainder rule and tie-break either way.
 * Drain order is creation order.
 */
import { formatIpv4, formatIpv6, isIpv4Text, parseIpv4 } from '@flowbill/shared/ip/index';
import { type AttributedFlow, type SubscriberIndex, DEFAULT_MAX_MINUTES, type Direction, MINUTE_MS, minuteStartOf, minutesSpanned, spreadOverMinutes, subscriberAddressText } from '../attribution/index.js';
import type { AttributedRecordSink } from '../attribution/attributed-records.js';
import { hasSeparator, type UsageEntry } from './usage-entry.js';

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

/** Doubles per entry row: address, minute, exporter, subscriber, tag, bytes, packets, flows. */
const STRIDE = 8;
const K_ADDRESS = 0;
const K_MINUTE = 1;
const K_EXPORTER = 2;
const K_SUBSCRIBER = 3;
/** direction (bit 0: upload) | address is interned text (bit 1) | class ref << 2. */
const K_TAG = 4;
const C_BYTES = 5;
const C_PACKETS = 6;
const C_FLOWS = 7;
const TAG_UPLOAD = 1;
const TAG_TEXT_ADDRESS = 2;

/** Interned texts beyond this are forgotten at the next full drain (privacy IPv6 addresses rotate). */
const MAX_INTERNED = 250_000;
/** Ref of a text that contains a separator: records with it are refused. */
const INVALID = -1;

/** Strings <-> dense refs; a text with a tab or newline gets INVALID. */
class Interner {
  readonly texts: string[] = [];
  private readonly refs = new Map<string, number>();
  // One-entry memo: consecutive records mostly repeat the same class and often the same text.
  private lastText: string | null = null;
  private lastRef = INVALID;

  refOf(text: string): number {
    if (text === this.lastText) return this.lastRef;
    let ref = this.refs.get(text);
    if (ref === undefined) {
      ref = hasSeparator(text) ? INVALID : this.texts.length;
      if (ref !== INVALID) this.texts.push(text);
      this.refs.set(text, ref);
    }
    this.lastText = text;
    this.lastRef = ref;
    return ref;
  }

  get size(): number {
    return this.refs.size;
  }

  clear(): void {
    this.texts.length = 0;
    this.refs.clear();
    this.lastText = null;
    this.lastRef = INVALID;
  }
}

/**
 * IPv6 address bytes -> ref of its text in `texts`: open addressing over rows of five int32
 * (the address as four words, ref + 1; 0 = empty). The text is formatted once per address.
 */
class Ipv6Refs {
  private rows = new Int32Array(5 * 1024);
  private mask = 1023;
  private count = 0;

  constructor(private readonly texts: Interner) {}

  refOf(bytes: Uint8Array, offset: number): number {
    const w0 = word(bytes, offset);
    const w1 = word(bytes, offset + 4);
    const w2 = word(bytes, offset + 8);
    const w3 = word(bytes, offset + 12);
    const rows = this.rows;
    let i = hash6(w0, w1, w2, w3) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const at = i * 5;
      if (rows[at + 4] === 0) break;
      if (rows[at] === w0 && rows[at + 1] === w1 && rows[at + 2] === w2 && rows[at + 3] === w3) return rows[at + 4] - 1;
    }
    const ref = this.texts.refOf(formatIpv6(bytes, offset));
    if (ref === INVALID) return ref;
    if ((this.count + 1) * 2 > this.mask + 1) {
      this.grow();
      i = hash6(w0, w1, w2, w3) & this.mask;
      while (this.rows[i * 5 + 4] !== 0) i = (i + 1) & this.mask;
    }
    const at = i * 5;
    this.rows[at] = w0;
    this.rows[at + 1] = w1;
    this.rows[at + 2] = w2;
    this.rows[at + 3] = w3;
    this.rows[at + 4] = ref + 1;
    this.count++;
    return ref;
  }

  clear(): void {
    if (this.count === 0) return;
    this.rows.fill(0);
    this.count = 0;
  }

  private grow(): void {
    const old = this.rows;
    this.mask = this.mask * 2 + 1;
    this.rows = new Int32Array(5 * (this.mask + 1));
    for (let at = 0; at < old.length; at += 5) {
      if (old[at + 4] === 0) continue;
      let i = hash6(old[at], old[at + 1], old[at + 2], old[at + 3]) & this.mask;
      while (this.rows[i * 5 + 4] !== 0) i = (i + 1) & this.mask;
      this.rows.set(old.subarray(at, at + 5), i * 5);
    }
  }
}

function word(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
}

function hash6(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ Math.imul(w1, 0x85ebca77), 0x9e3779b1) ^ Math.imul(w2 ^ Math.imul(w3, 0xc2b2ae3d), 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return h ^ (h >>> 15);
}

function hashKey(address: number, minute: number, exporter: number, subscriber: number, tag: number): number {
  let h = Math.imul(address | 0, 0x9e3779b1) ^ Math.imul((minute / 60) | 0, 0x85ebca77) ^ Math.imul(subscriber ^ (exporter << 20) ^ (tag << 12), 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return h ^ (h >>> 15);
}

export class MinuteAggregator implements AttributedRecordSink {
  readonly maxKeys: number;
  readonly maxMinutes: number;
  readonly anomalies: AggregationAnomalies = { clampedRecords: 0, rejectedRecords: 0, rejectedBytes: 0n, rejectedPackets: 0n };
  private readonly onFull: ((aggregator: MinuteAggregator) => void) | undefined;
  private readonly exporterLabel: (exporterId: number) => string;

  /** Entry rows, STRIDE doubles each, in creation order. */
  private rows = new Float64Array(STRIDE * 1024);
  private count = 0;
  /** Open-addressing index: entry number + 1, 0 = empty; power-of-two length, at most half full. */
  private index = new Int32Array(4096);
  /** Bigint carries of counters that passed 2^53 - 1, by entry number (rare). */
  private bytesCarry = new Map<number, bigint>();
  private packetsCarry = new Map<number, bigint>();

  private readonly exporters = new Interner();
  private readonly subscribers = new Interner();
  private readonly classes = new Interner();
  private readonly addressTexts = new Interner();
  /** Exporter ref of a dense exporter id (the decoder's), + 1; 0 = not looked up yet. */
  private exporterRefsById = new Int32Array(64);
  private readonly ipv4Texts = new Map<number, string>();
  /** IPv6 addresses (16 bytes) -> their interned text's ref, so a record formats no text. */
  private readonly ipv6Refs = new Ipv6Refs(this.addressTexts);
  /** Subscriber ref + 1 by holder id of `holdersOf` (0 = not looked up yet): no string hashing per record. */
  private subscriberRefsByHolder = new Int32Array(0);
  private holdersOf: SubscriberIndex | null = null;
  /**
   * The entry a holder's last record went to, + 1 (0 = none), per holder, direction and
   * minute parity (so a flow's start minute and the next one both stay cached). Checked
   * against the entry's full key, so it is only a shortcut past the index: with thousands
   * of subscribers the index slot is one cache miss more per record, this array is small.
   */
  private holderSlots = new Int32Array(0);
  /** Holder of the current record (in holdersOf), or -1. */
  private kHolder = -1;

  // The key of the record being added (set before spreading, read by slotFor), so
  // spreading allocates no closure per record.
  private kAddress = 0;
  private kExporter = 0;
  private kSubscriber = 0;
  private kTag = 0;
  private startMinute = 0;
  private flowCounted = false;
  private readonly addShare = (minuteStartMs: number, bytes: bigint, packets: bigint): void => {
    let flows = 0;
    if (!this.flowCounted && minuteStartMs === this.startMinute) {
      flows = 1;
      this.flowCounted = true;
    }
    this.addBigints(this.slotFor(minuteStartMs / 1000), bytes, packets, flows);
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
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.maxKeys;
  }

  /** Add one attribution (a BatchAttributor sink call); copies what it keeps. */
  add(flow: Readonly<AttributedFlow>): void {
    const exporter = this.exporterRefOf(flow.exporterId);
    // Counters as numbers: BatchAttributor provides them (bytesNumber, -1 when not a safe
    // integer); for other flows they are taken from the bigints.
    const bytes = flow.bytesNumber ?? safeNumber(flow.bytes);
    const packets = flow.packetsNumber ?? safeNumber(flow.packets);
    if (bytes < 0 || packets < 0 || !Number.isFinite(flow.start)) {
      this.addParts(this.exporters.texts[exporter] ?? this.exporterLabel(flow.exporterId), flow.subscriberId, subscriberAddressText(flow), flow.direction, flow.trafficClass, flow.start, flow.end, flow.bytes, flow.packets);
      return;
    }
    const subscriber = this.subscriberRefOf(flow);
    const trafficClass = this.classes.refOf(flow.trafficClass);
    let address: number;
    let tag = flow.direction === 'upload' ? TAG_UPLOAD : 0;
    if (flow.address6 === null) address = flow.address4 >>> 0;
    else {
      address = this.ipv6Refs.refOf(flow.address6, flow.address6Offset);
      tag |= TAG_TEXT_ADDRESS;
    }
    if (exporter === INVALID || subscriber === INVALID || trafficClass === INVALID || address === INVALID) return this.reject(bytes, packets);
    this.kAddress = address;
    this.kExporter = exporter;
    this.kSubscriber = subscriber;
    this.kTag = tag | (trafficClass << 2);
    this.addNumbers(flow.start, flow.end, bytes, packets);
  }

  /**
   * add() for one record of the receive thread (attribution/attributed-records.ts), as
   * numbers, without an AttributedFlow in between: the per-record path of the collector.
   * `holder` is a holder id of `index`; `address6` (16 bytes at `offset6`) is null for IPv4;
   * `bytes` and `packets` are sampling-scaled non-negative safe integers (a record with
   * bigger counters goes through add()).
   */
  addHolderRecord(
    exporterId: number,
    index: SubscriberIndex,
    holder: number,
    upload: boolean,
    trafficClass: string,
    address4: number,
    address6: Uint8Array | null,
    offset6: number,
    start: number,
    end: number,
    bytes: number,
    packets: number,
  ): void {
    const exporter = this.exporterRefOf(exporterId);
    if (!Number.isFinite(start) || !(holder >= 0 && holder < index.holderCount)) {
      this.addParts(this.exporters.texts[exporter] ?? this.exporterLabel(exporterId), index.subscriberOf(holder) ?? '', address6 === null ? formatIpv4(address4) : formatIpv6(address6, offset6), upload ? 'upload' : 'download', trafficClass, start, end, BigInt(bytes), BigInt(packets));
      return;
    }
    const subscriber = this.subscriberRefOfHolder(index, holder, null);
    const classRef = this.classes.refOf(trafficClass);
    let address: number;
    let tag = upload ? TAG_UPLOAD : 0;
    if (address6 === null) address = address4 >>> 0;
    else {
      address = this.ipv6Refs.refOf(address6, offset6);
      tag |= TAG_TEXT_ADDRESS;
    }
    if (exporter === INVALID || subscriber === INVALID || classRef === INVALID || address === INVALID) return this.reject(bytes, packets);
    this.kAddress = address;
    this.kExporter = exporter;
    this.kSubscriber = subscriber;
    this.kTag = tag | (classRef << 2);
    this.addNumbers(start, end, bytes, packets);
  }

  addRecord(record: Readonly<UsageRecord>): void {
    this.addParts(record.exporter, record.subscriberId, record.address, record.direction, record.trafficClass, record.start, record.end, record.bytes, record.packets);
  }

  /**
   * Remove and return up to `maxKeys` entries (all by default), oldest key first. The
   * returned objects are no longer referenced by the aggregator.
   */
  drain(maxKeys = Number.POSITIVE_INFINITY): UsageEntry[] {
    const take = Math.min(this.count, maxKeys);
    const out: UsageEntry[] = new Array(take);
    for (let n = 0; n < take; n++) out[n] = this.entryAt(n);
    // Entry numbers change or go away: the per-holder shortcuts must not point at them.
    this.holderSlots.fill(0);
    if (take === this.count) {
      this.count = 0;
      this.index.fill(0);
      if (this.bytesCarry.size > 0) this.bytesCarry = new Map();
      if (this.packetsCarry.size > 0) this.packetsCarry = new Map();
      // Nothing refers to interned texts now: forget them if they piled up.
      if (this.subscribers.size + this.addressTexts.size + this.exporters.size > MAX_INTERNED) {
        this.subscribers.clear();
        this.addressTexts.clear();
        this.exporters.clear();
        this.classes.clear();
        this.ipv6Refs.clear();
        this.exporterRefsById.fill(0);
        this.holdersOf = null;
      }
      if (this.ipv4Texts.size > MAX_INTERNED) this.ipv4Texts.clear();
      return out;
    }
    // Keep the rest, renumbered from 0 in the same order.
    this.rows.copyWithin(0, take * STRIDE, this.count * STRIDE);
    this.count -= take;
    this.bytesCarry = shiftCarry(this.bytesCarry, take);
    this.packetsCarry = shiftCarry(this.packetsCarry, take);
    this.index.fill(0);
    const rows = this.rows;
    const mask = this.index.length - 1;
    for (let n = 0; n < this.count; n++) {
      const at = n * STRIDE;
      let i = hashKey(rows[at + K_ADDRESS], rows[at + K_MINUTE], rows[at + K_EXPORTER], rows[at + K_SUBSCRIBER], rows[at + K_TAG]) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = n + 1;
    }
    return out;
  }

  private entryAt(n: number): UsageEntry {
    const rows = this.rows;
    const at = n * STRIDE;
    const tag = rows[at + K_TAG];
    const address = rows[at + K_ADDRESS];
    return {
      exporter: this.exporters.texts[rows[at + K_EXPORTER]],
      subscriberId: this.subscribers.texts[rows[at + K_SUBSCRIBER]],
      address: (tag & TAG_TEXT_ADDRESS) !== 0 ? this.addressTexts.texts[address] : this.ipv4Text(address),
      minute: rows[at + K_MINUTE],
      direction: (tag & TAG_UPLOAD) !== 0 ? 'upload' : 'download',
      trafficClass: this.classes.texts[tag >>> 2],
      bytes: BigInt(rows[at + C_BYTES]) + (this.bytesCarry.get(n) ?? 0n),
      packets: BigInt(rows[at + C_PACKETS]) + (this.packetsCarry.get(n) ?? 0n),
      flows: BigInt(rows[at + C_FLOWS]),
    };
  }

  private ipv4Text(address: number): string {
    let text = this.ipv4Texts.get(address);
    if (text === undefined) {
      text = formatIpv4(address);
      this.ipv4Texts.set(address, text);
    }
    return text;
  }

  private subscriberRefOf(flow: Readonly<AttributedFlow>): number {
    const holder = flow.holder;
    const index = flow.holderIndex;
    if (holder === undefined || index === undefined || !(holder >= 0 && holder < index.holderCount)) {
      this.kHolder = -1;
      return this.subscribers.refOf(flow.subscriberId);
    }
    return this.subscriberRefOfHolder(index, holder, flow.subscriberId);
  }

  /** Subscriber ref of `holder` (a valid holder id of `index`; its subscriber text is `text` or the index's), cached per holder. */
  private subscriberRefOfHolder(index: SubscriberIndex, holder: number, text: string | null): number {
    if (index !== this.holdersOf) {
      this.holdersOf = index;
      this.subscriberRefsByHolder = new Int32Array(index.holderCount);
      this.holderSlots = new Int32Array(index.holderCount * 4);
    }
    this.kHolder = holder;
    const known = this.subscriberRefsByHolder[holder];
    if (known !== 0) return known - 1;
    const ref = this.subscribers.refOf(text ?? index.subscriberOf(holder));
    this.subscriberRefsByHolder[holder] = ref + 1;
    return ref;
  }

  private exporterRefOf(id: number): number {
    const dense = id >= 0 && id < 1 << 20 && Number.isInteger(id);
    if (dense && id < this.exporterRefsById.length) {
      const known = this.exporterRefsById[id];
      if (known !== 0) return known - 1;
    }
    const ref = this.exporters.refOf(this.exporterLabel(id));
    if (dense) {
      if (id >= this.exporterRefsById.length) {
        const grown = new Int32Array(Math.max(id + 1, this.exporterRefsById.length * 2));
        grown.set(this.exporterRefsById);
        this.exporterRefsById = grown;
      }
      this.exporterRefsById[id] = ref + 1;
    }
    return ref;
  }

  /** Entry number of the current record's key in `minute` (epoch s), created if missing. */
  private slotFor(minute: number): number {
    const holder = this.kHolder;
    if (holder < 0) return this.slotByIndex(minute);
    const cacheAt = (holder << 2) | ((this.kTag & TAG_UPLOAD) << 1) | (((minute / 60) | 0) & 1);
    const cached = this.holderSlots[cacheAt];
    if (cached !== 0) {
      const rows = this.rows;
      const at = (cached - 1) * STRIDE;
      if (rows[at + K_ADDRESS] === this.kAddress && rows[at + K_MINUTE] === minute && rows[at + K_SUBSCRIBER] === this.kSubscriber && rows[at + K_TAG] === this.kTag && rows[at + K_EXPORTER] === this.kExporter) return cached - 1;
    }
    const n = this.slotByIndex(minute);
    this.holderSlots[cacheAt] = n + 1;
    return n;
  }

  /** slotFor through the open-addressing index. */
  private slotByIndex(minute: number): number {
    if ((this.count + 1) * 2 > this.index.length) this.growIndex();
    const address = this.kAddress;
    const exporter = this.kExporter;
    const subscriber = this.kSubscriber;
    const tag = this.kTag;
    const index = this.index;
    const rows = this.rows;
    const mask = index.length - 1;
    for (let i = hashKey(address, minute, exporter, subscriber, tag) & mask; ; i = (i + 1) & mask) {
      const n = index[i];
      if (n === 0) {
        index[i] = this.create(minute) + 1;
        return this.count - 1;
      }
      const at = (n - 1) * STRIDE;
      if (rows[at + K_ADDRESS] === address && rows[at + K_MINUTE] === minute && rows[at + K_SUBSCRIBER] === subscriber && rows[at + K_TAG] === tag && rows[at + K_EXPORTER] === exporter) return n - 1;
    }
  }

  private create(minute: number): number {
    const n = this.count;
    if ((n + 1) * STRIDE > this.rows.length) {
      const grown = new Float64Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    const at = n * STRIDE;
    const rows = this.rows;
    rows[at + K_ADDRESS] = this.kAddress;
    rows[at + K_MINUTE] = minute;
    rows[at + K_EXPORTER] = this.kExporter;
    rows[at + K_SUBSCRIBER] = this.kSubscriber;
    rows[at + K_TAG] = this.kTag;
    rows[at + C_BYTES] = 0;
    rows[at + C_PACKETS] = 0;
    rows[at + C_FLOWS] = 0;
    this.count = n + 1;
    return n;
  }

  private growIndex(): void {
    const index = new Int32Array(this.index.length * 2);
    const mask = index.length - 1;
    const rows = this.rows;
    for (let n = 0; n < this.count; n++) {
      const at = n * STRIDE;
      let i = hashKey(rows[at + K_ADDRESS], rows[at + K_MINUTE], rows[at + K_EXPORTER], rows[at + K_SUBSCRIBER], rows[at + K_TAG]) & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = n + 1;
    }
    this.index = index;
  }

  /** `bytes`, `packets`: non-negative safe integers; `flows`: 0 or 1. */
  private addToSlot(n: number, bytes: number, packets: number, flows: number): void {
    const rows = this.rows;
    const at = n * STRIDE;
    const b = rows[at + C_BYTES] + bytes;
    if (b <= MAX_SAFE) rows[at + C_BYTES] = b;
    else {
      this.bytesCarry.set(n, (this.bytesCarry.get(n) ?? 0n) + BigInt(rows[at + C_BYTES]) + BigInt(bytes));
      rows[at + C_BYTES] = 0;
    }
    const p = rows[at + C_PACKETS] + packets;
    if (p <= MAX_SAFE) rows[at + C_PACKETS] = p;
    else {
      this.packetsCarry.set(n, (this.packetsCarry.get(n) ?? 0n) + BigInt(rows[at + C_PACKETS]) + BigInt(packets));
      rows[at + C_PACKETS] = 0;
    }
    rows[at + C_FLOWS] += flows;
  }

  /** Non-negative bigints of any size. */
  private addBigints(n: number, bytes: bigint, packets: bigint, flows: number): void {
    if (bytes <= MAX_SAFE_BIG) this.addToSlot(n, Number(bytes), 0, 0);
    else this.bytesCarry.set(n, (this.bytesCarry.get(n) ?? 0n) + bytes);
    if (packets <= MAX_SAFE_BIG) this.addToSlot(n, 0, Number(packets), 0);
    else this.packetsCarry.set(n, (this.packetsCarry.get(n) ?? 0n) + packets);
    this.rows[n * STRIDE + C_FLOWS] += flows;
  }

  /** Refuse the current record (a key part contains a separator). */
  private reject(bytes: number | bigint, packets: number | bigint): void {
    this.anomalies.rejectedRecords++;
    if (bytes > 0) this.anomalies.rejectedBytes += BigInt(bytes);
    if (packets > 0) this.anomalies.rejectedPackets += BigInt(packets);
  }

  private afterRecord(clamped: boolean): void {
    if (clamped) this.anomalies.clampedRecords++;
    if (this.onFull !== undefined && this.count >= this.maxKeys) this.onFull(this);
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
      this.addToSlot(this.slotFor(firstMinute / 1000), bytes, packets, 1);
      return this.afterRecord(clamped);
    }
    // Weights sum to endMicros - startMicros; with (total + 1) * that within 2^53 - 1, every
    // product, quotient and remainder of the split is exact in doubles.
    const span = endMicros - startMicros;
    if (minutes > this.weights.length || (bytes + 1) * span > MAX_SAFE || (packets + 1) * span > MAX_SAFE) {
      this.startMinute = firstMinute;
      this.flowCounted = false;
      spreadOverMinutes(start, end, BigInt(bytes), BigInt(packets), this.addShare, this.maxMinutes);
      if (!this.flowCounted) this.addToSlot(this.slotFor(firstMinute / 1000), 0, 0, 1);
      return this.afterRecord(clamped);
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
      this.addToSlot(this.slotFor((firstMinute + k * MINUTE_MS) / 1000), b, p, k === 0 ? 1 : 0);
      if (k === 0) flowCounted = true;
    }
    if (!flowCounted) this.addToSlot(this.slotFor(firstMinute / 1000), 0, 0, 1);
    this.afterRecord(clamped);
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
    // The start minute always gets its flow count, with or without a share.
    this.addToSlot(this.slotFor(firstMinute / 1000), b0, p0, 1);
    const b1 = bytes - b0;
    const p1 = packets - p0;
    if (b1 !== 0 || p1 !== 0) this.addToSlot(this.slotFor((firstMinute + MINUTE_MS) / 1000), b1, p1, 0);
    this.afterRecord(clamped);
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
    const exporterRef = this.exporters.refOf(exporter);
    const subscriberRef = this.subscribers.refOf(subscriberId);
    const classRef = this.classes.refOf(trafficClass);
    // An IPv4 text takes the numeric form, so it meets the same entry as add()'s records.
    const ipv4 = isIpv4Text(address);
    const addressRef = ipv4 ? parseIpv4(address) : this.addressTexts.refOf(address);
    if (!Number.isFinite(start) || bytes < 0n || packets < 0n || exporterRef === INVALID || subscriberRef === INVALID || classRef === INVALID || addressRef === INVALID) {
      this.anomalies.rejectedRecords++;
      if (bytes > 0n) this.anomalies.rejectedBytes += bytes;
      if (packets > 0n) this.anomalies.rejectedPackets += packets;
      return;
    }
    this.kHolder = -1;
    this.kAddress = addressRef;
    this.kExporter = exporterRef;
    this.kSubscriber = subscriberRef;
    this.kTag = (direction === 'upload' ? TAG_UPLOAD : 0) | (ipv4 ? 0 : TAG_TEXT_ADDRESS) | (classRef << 2);
    if (bytes <= MAX_SAFE_BIG && packets <= MAX_SAFE_BIG) {
      this.addNumbers(start, end, Number(bytes), Number(packets));
      return;
    }
    this.startMinute = minuteStartOf(start);
    this.flowCounted = false;
    let spreadEnd = end;
    const clamped = minutesSpanned(start, end) > this.maxMinutes;
    if (clamped) spreadEnd = start;
    spreadOverMinutes(start, spreadEnd, bytes, packets, this.addShare, this.maxMinutes);
    // A flow whose start minute got no share (zero counters, or a share rounded to 0)
    // is still one flow of its start minute.
    if (!this.flowCounted) this.addToSlot(this.slotFor(this.startMinute / 1000), 0, 0, 1);
    this.afterRecord(clamped);
  }
}

/** Carries of entries renumbered after a partial drain of `taken` entries. */
function shiftCarry(carry: Map<number, bigint>, taken: number): Map<number, bigint> {
  if (carry.size === 0) return carry;
  const shifted = new Map<number, bigint>();
  for (const [n, value] of carry) if (n >= taken) shifted.set(n - taken, value);
  return shifted;
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
