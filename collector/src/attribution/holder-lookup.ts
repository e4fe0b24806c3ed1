/**
 * HolderLookup: SubscriberIndex's "who held address A at time T" without the rest (no
 * subscriber texts, nothing to build), over typed arrays that another thread made.
 *
 * Why: the collector's receive thread attributes records (service/receiver/), but the
 * subscriber index is built on the main thread (AssignmentWatcher; a build of 100,000 rows
 * takes about a second, a pause a receive thread cannot afford). The main thread turns each
 * index it builds into tables (SubscriberIndex.lookupTables: tries, flattened timelines,
 * the /32 host table, the /16 presence bitmap), posts them (a copy of memory), and the
 * receive thread wraps them here in O(1) apart from a consistency check. The answers and
 * holder ids are the index's own (a property test compares them on random tables).
 *
 * Pure and allocation-free per lookup.
 */
import { NO_SLOT, RadixTrieCore, type RadixTrieTables } from '@flowbill/shared/ip/index';
import { holderAtChangePoints, NO_HOLDER } from './ownership-timeline.js';
import { hashAddress } from './subscriber-index.js';

export interface HolderLookupTables {
  /** Holder ids run from 0 to holderCount - 1 (the index's ids). */
  readonly holderCount: number;
  /** One bit per IPv4 /16 that any assignment covers part of (2048 words). */
  readonly presence4: Int32Array;
  readonly trie4: RadixTrieTables;
  readonly trie6: RadixTrieTables;
  /** Trie slot -> timeline number. */
  readonly slotTimelines: Int32Array;
  /**
   * The /32 host table: open addressing, power-of-two rows of four doubles (address or -1
   * for empty, start of the single holder or NaN, that holder or -1, timeline number).
   * Empty when there are no /32 assignments.
   */
  readonly hostRows: Float64Array;
  /** Timeline t's change points are [timelineStarts[t], timelineStarts[t + 1]). */
  readonly timelineStarts: Int32Array;
  readonly changeTimes: Float64Array;
  readonly holders: Int32Array;
}

const NOT_A_HOST = -2;

export class HolderLookup {
  /** Nothing is assigned. */
  static readonly EMPTY = HolderLookup.fromTables({
    holderCount: 0,
    presence4: new Int32Array(2048),
    trie4: new RadixTrieCore(1, 2).tables(),
    trie6: new RadixTrieCore(4, 2).tables(),
    slotTimelines: new Int32Array(0),
    hostRows: new Float64Array(0),
    timelineStarts: new Int32Array(1),
    changeTimes: new Float64Array(0),
    holders: new Int32Array(0),
  });

  readonly holderCount: number;
  private readonly presence4: Int32Array;
  private readonly trie4: RadixTrieCore;
  private readonly trie6: RadixTrieCore;
  private readonly slotTimelines: Int32Array;
  private readonly hostRows: Float64Array;
  private readonly hostMask: number;
  private readonly timelineStarts: Int32Array;
  private readonly changeTimes: Float64Array;
  private readonly holders: Int32Array;

  private constructor(t: HolderLookupTables) {
    this.holderCount = t.holderCount;
    this.presence4 = t.presence4;
    this.trie4 = RadixTrieCore.fromTables(t.trie4);
    this.trie6 = RadixTrieCore.fromTables(t.trie6);
    this.slotTimelines = t.slotTimelines;
    this.hostRows = t.hostRows;
    this.hostMask = t.hostRows.length / 4 - 1;
    this.timelineStarts = t.timelineStarts;
    this.changeTimes = t.changeTimes;
    this.holders = t.holders;
  }

  /**
   * Wrap tables from SubscriberIndex.lookupTables (used as they are). Checks that they fit
   * together, so that a lookup can never read outside them: a failure here is a bug in the
   * sender, reported instead of misattributing.
   */
  static fromTables(t: HolderLookupTables): HolderLookup {
    const fail = (what: string): never => {
      throw new RangeError(`holder lookup tables: ${what}`);
    };
    if (!Number.isInteger(t.holderCount) || t.holderCount < 0) fail(`holderCount ${t.holderCount}`);
    if (t.presence4.length !== 2048) fail(`presence bitmap of ${t.presence4.length} words, not 2048`);
    if (t.trie4.wordCount !== 1 || t.trie6.wordCount !== 4) fail('trie word counts');
    const timelines = t.timelineStarts.length - 1;
    if (timelines < 0 || t.timelineStarts[0] !== 0 || t.timelineStarts[timelines] !== t.changeTimes.length || t.holders.length !== t.changeTimes.length) fail('timeline offsets');
    for (let k = 0; k < timelines; k++) if (t.timelineStarts[k + 1] < t.timelineStarts[k]) fail('timeline offsets decrease');
    for (const holder of t.holders) if (holder !== NO_HOLDER && (holder < 0 || holder >= t.holderCount)) fail(`holder ${holder} outside 0..${t.holderCount - 1}`);
    for (const n of t.slotTimelines) if (n < 0 || n >= timelines) fail(`timeline ${n} outside 0..${timelines - 1}`);
    for (const trie of [t.trie4, t.trie6]) for (const slot of trie.slots) if (slot !== NO_SLOT && (slot < 0 || slot >= t.slotTimelines.length)) fail(`slot ${slot} outside the slot table`);
    const rows = t.hostRows.length / 4;
    if (rows !== 0 && (!Number.isInteger(rows) || (rows & (rows - 1)) !== 0)) fail(`host table of ${t.hostRows.length} doubles`);
    let empty = rows === 0;
    for (let at = 0; at < t.hostRows.length; at += 4) {
      if (t.hostRows[at] === -1) {
        empty = true;
        continue;
      }
      const holder = t.hostRows[at + 2];
      const timeline = t.hostRows[at + 3];
      if (!(holder === -1 || (Number.isInteger(holder) && holder >= 0 && holder < t.holderCount))) fail(`host holder ${holder}`);
      if (!(Number.isInteger(timeline) && timeline >= 0 && timeline < timelines)) fail(`host timeline ${timeline}`);
    }
    // A probe stops at an empty row: a full table would loop forever.
    if (!empty) fail('host table has no empty row');
    return new HolderLookup(t);
  }

  /** Holder of the uint32 IPv4 `address` at `time`, or NO_HOLDER (as SubscriberIndex.holderOf4). */
  holderOf4(address: number, time: number): number {
    const slash16 = address >>> 16;
    if ((this.presence4[slash16 >>> 5] & (1 << (slash16 & 31))) === 0) return NO_HOLDER;
    if (this.hostMask >= 0) {
      const holder = this.hostHolderAt(address >>> 0, time);
      if (holder !== NOT_A_HOST) return holder;
    }
    const slot = this.trie4.longestMatch32(address >>> 0);
    return slot === NO_SLOT ? NO_HOLDER : this.timelineHolderAt(this.slotTimelines[slot], time);
  }

  /** Holder of the IPv6 address at `bytes[offset..offset+16)` at `time`, or NO_HOLDER. */
  holderOf6(bytes: Uint8Array, offset: number, time: number): number {
    const slot = this.trie6.longestMatch128(bytes, offset);
    return slot === NO_SLOT ? NO_HOLDER : this.timelineHolderAt(this.slotTimelines[slot], time);
  }

  private hostHolderAt(address: number, time: number): number {
    const rows = this.hostRows;
    const mask = this.hostMask;
    for (let i = hashAddress(address) & mask; ; i = (i + 1) & mask) {
      const at = i * 4;
      const a = rows[at];
      if (a === address) {
        const holder = rows[at + 2];
        if (holder >= 0) return time >= rows[at + 1] ? holder : NO_HOLDER;
        return this.timelineHolderAt(rows[at + 3], time);
      }
      if (a === -1) return NOT_A_HOST;
    }
  }

  /** The holder from the last change point at or before `time` (OwnershipTimeline.holderAt). */
  private timelineHolderAt(timeline: number, time: number): number {
    return holderAtChangePoints(this.changeTimes, this.holders, this.timelineStarts[timeline], this.timelineStarts[timeline + 1], time);
  }
}
