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
 */
import { type AttributedFlow, DEFAULT_MAX_MINUTES, type Direction, minuteStartOf, minutesSpanned, spreadOverMinutes, subscriberAddressText } from '../attribution/index.js';
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

export class MinuteAggregator {
  readonly maxKeys: number;
  readonly maxMinutes: number;
  readonly anomalies: AggregationAnomalies = { clampedRecords: 0, rejectedRecords: 0, rejectedBytes: 0n, rejectedPackets: 0n };
  private entries = new Map<string, UsageEntry>();
  private readonly onFull: ((aggregator: MinuteAggregator) => void) | undefined;
  private readonly exporterLabel: (exporterId: number) => string;
  private readonly exporterLabels = new Map<number, string>();

  // The record being spread: set before spreadOverMinutes, read by the bound share sink,
  // so spreading allocates no closure per record.
  private exporter = '';
  private subscriberId = '';
  private address = '';
  private direction: Direction = 'download';
  private trafficClass = '';
  private startMinute = 0;
  private flowCounted = false;
  private readonly addShare = (minuteStartMs: number, bytes: bigint, packets: bigint): void => {
    let flows = 0n;
    if (!this.flowCounted && minuteStartMs === this.startMinute) {
      flows = 1n;
      this.flowCounted = true;
    }
    this.accumulate(minuteStartMs, bytes, packets, flows);
  };

  constructor(options: MinuteAggregatorOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_AGGREGATOR_MAX_KEYS;
    this.maxMinutes = options.maxMinutes ?? DEFAULT_MAX_MINUTES;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${this.maxKeys}`);
    if (!Number.isInteger(this.maxMinutes) || this.maxMinutes < 1) throw new RangeError(`maxMinutes must be a positive integer, got ${this.maxMinutes}`);
    this.onFull = options.onFull;
    this.exporterLabel = options.exporterLabel ?? ((id) => String(id));
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
    let exporter = this.exporterLabels.get(flow.exporterId);
    if (exporter === undefined) {
      exporter = this.exporterLabel(flow.exporterId);
      this.exporterLabels.set(flow.exporterId, exporter);
    }
    this.addParts(exporter, flow.subscriberId, subscriberAddressText(flow), flow.direction, flow.trafficClass, flow.start, flow.end, flow.bytes, flow.packets);
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
      const all = [...this.entries.values()];
      this.entries = new Map();
      return all;
    }
    const taken: UsageEntry[] = [];
    for (const [key, entry] of this.entries) {
      if (taken.length >= maxKeys) break;
      taken.push(entry);
      this.entries.delete(key);
    }
    return taken;
  }

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
    if (!Number.isFinite(start) || bytes < 0n || packets < 0n || hasSeparator(exporter) || hasSeparator(subscriberId) || hasSeparator(address) || hasSeparator(trafficClass)) {
      this.anomalies.rejectedRecords++;
      if (bytes > 0n) this.anomalies.rejectedBytes += bytes;
      if (packets > 0n) this.anomalies.rejectedPackets += packets;
      return;
    }
    this.exporter = exporter;
    this.subscriberId = subscriberId;
    this.address = address;
    this.direction = direction;
    this.trafficClass = trafficClass;
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
    if (!this.flowCounted) this.accumulate(this.startMinute, 0n, 0n, 1n);
    if (this.onFull !== undefined && this.entries.size >= this.maxKeys) this.onFull(this);
  }

  private accumulate(minuteStartMs: number, bytes: bigint, packets: bigint, flows: bigint): void {
    const minute = minuteStartMs / 1000;
    const keyText = usageKeyText(this.exporter, this.subscriberId, this.address, this.direction, this.trafficClass, minute);
    const entry = this.entries.get(keyText);
    if (entry === undefined) {
      this.entries.set(keyText, {
        exporter: this.exporter,
        subscriberId: this.subscriberId,
        address: this.address,
        minute,
        direction: this.direction,
        trafficClass: this.trafficClass,
        bytes,
        packets,
        flows,
      });
      return;
    }
    entry.bytes += bytes;
    entry.packets += packets;
    entry.flows += flows;
  }
}
