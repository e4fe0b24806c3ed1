/**
 * "Which subscriber held address A at time T": longest-prefix match combined with
 * validity intervals.
 *
 * Built once from the full assignment list and never mutated; the collector builds a
 * new index when assignments change and swaps the reference (see BatchAttributor).
 *
 * A more specific prefix wins over a covering one only while it is assigned. That is
 * resolved at build time rather than per lookup: prefixes are inserted shortest first,
 * and each one stores its own timeline overlaid on the effective timeline of the
 * longest prefix covering it. Every stored prefix containing an address lies on one
 * chain, so the longest match's effective timeline answers for all of them, and a
 * lookup stays one trie walk plus one binary search.
 */
import { InvalidIpError, type IpPrefix, PrefixTrie, formatPrefix, parseAddressOrPrefix, parseIpAddress } from '@flowbill/shared/ip/index';
import { AttributionTableError } from './attribution-table-error.js';
import { type HolderLookupTables } from './holder-lookup.js';
import { type HeldInterval, NO_HOLDER, OwnershipTimeline } from './ownership-timeline.js';

export { NO_HOLDER } from './ownership-timeline.js';

export interface SubscriberAssignment {
  readonly subscriberId: string;
  /** An address ("100.64.0.7", "2001:db8::7") or a prefix ("2001:db8:1:100::/56"); host bits must be clear. */
  readonly prefix: string;
  /** Start of validity, ms since epoch, inclusive. */
  readonly validFrom: number;
  /** End of validity, ms since epoch, exclusive; null (or Infinity) while the assignment lasts. */
  readonly validTo: number | null;
}

interface PrefixGroup {
  readonly prefix: IpPrefix;
  readonly text: string;
  readonly intervals: HeldInterval[];
}

export class SubscriberIndex {
  /** An index in which nothing is assigned. */
  static readonly EMPTY = new SubscriberIndex(new PrefixTrie(), [], [], 0);

  /** IPv4 /32 assignments by address (see HostTable); null when there are none. */
  private readonly hosts4: HostTable | null;
  /**
   * One bit per IPv4 /16: set when some assignment (at any time) covers part of it. Half
   * of all lookups are the remote end of a flow, almost never a subscriber: this 8 KiB
   * bitmap stays in the core's cache and answers them without touching the host table or
   * the trie (each a likely cache miss with thousands of subscribers).
   */
  private readonly v4Presence = new Int32Array(2048);

  private constructor(
    private readonly timelines: PrefixTrie<OwnershipTimeline>,
    /** Holder id -> subscriber; a holder is one (subscriber, prefix) pair. */
    private readonly holderSubscribers: readonly string[],
    /** Holder id -> canonical prefix text. */
    private readonly holderPrefixes: readonly string[],
    /** Number of assignment rows the index was built from. */
    readonly assignmentCount: number,
    hosts4: readonly { address: number; timeline: OwnershipTimeline }[] = [],
    /** Every IPv4 prefix in the trie, for v4Presence. */
    prefixes4: readonly IpPrefix[] = [],
  ) {
    this.hosts4 = hosts4.length > 0 ? new HostTable(hosts4) : null;
    for (const prefix of prefixes4) if (prefix.version === 4) markPresence(this.v4Presence, prefix.network, prefix.length);
  }

  /**
   * Build from the complete assignment list. Throws AttributionTableError listing
   * every invalid row and every prefix held by two subscribers at the same time.
   */
  static build(assignments: readonly SubscriberAssignment[]): SubscriberIndex {
    const problems: string[] = [];
    const groups = new Map<string, PrefixGroup>();
    const holderIds = new Map<string, number>();
    const holderSubscribers: string[] = [];
    const holderPrefixes: string[] = [];

    assignments.forEach((assignment, row) => {
      const parsed = parseAssignment(assignment, row, problems);
      if (parsed === undefined) return;
      const text = formatPrefix(parsed.prefix);
      const holderKey = `${assignment.subscriberId}\n${text}`;
      let holder = holderIds.get(holderKey);
      if (holder === undefined) {
        holder = holderSubscribers.length;
        holderIds.set(holderKey, holder);
        holderSubscribers.push(assignment.subscriberId);
        holderPrefixes.push(text);
      }
      let group = groups.get(text);
      if (group === undefined) {
        group = { prefix: parsed.prefix, text, intervals: [] };
        groups.set(text, group);
      }
      group.intervals.push({ from: parsed.from, to: parsed.to, holder });
    });

    const ownTimelines = new Map<PrefixGroup, OwnershipTimeline>();
    for (const group of groups.values()) {
      const timeline = OwnershipTimeline.fromIntervals(group.intervals, (kept, rejected) => {
        problems.push(
          `${group.text} is assigned to "${holderSubscribers[kept.holder]}" ${describeInterval(kept)} ` +
            `and to "${holderSubscribers[rejected.holder]}" ${describeInterval(rejected)} at the same time`,
        );
      });
      ownTimelines.set(group, timeline);
    }
    if (problems.length > 0) throw new AttributionTableError('subscriber assignments', problems);

    // Shortest first, so the covering prefixes of each one are already in the trie.
    const trie = new PrefixTrie<OwnershipTimeline>();
    const hosts4: { address: number; timeline: OwnershipTimeline }[] = [];
    const byLength = [...groups.values()].sort((a, b) => a.prefix.length - b.prefix.length);
    for (const group of byLength) {
      const covering = group.prefix.version === 4 ? trie.lookup4(group.prefix.network) : trie.lookup6(group.prefix.network, 0);
      const own = ownTimelines.get(group) ?? OwnershipTimeline.EMPTY;
      const effective = covering === undefined ? own : own.overlay(covering);
      trie.insert(group.prefix, effective);
      if (group.prefix.version === 4 && group.prefix.length === 32) hosts4.push({ address: group.prefix.network, timeline: effective });
    }
    const prefixes4 = byLength.filter((group) => group.prefix.version === 4).map((group) => group.prefix);
    return new SubscriberIndex(trie, holderSubscribers, holderPrefixes, assignments.length, hosts4, prefixes4);
  }

  /** Holder of the uint32 IPv4 `address` at `time`, or NO_HOLDER. Allocation-free. */
  holderOf4(address: number, time: number): number {
    const slash16 = address >>> 16;
    if ((this.v4Presence[slash16 >>> 5] & (1 << (slash16 & 31))) === 0) return NO_HOLDER;
    if (this.hosts4 !== null) {
      const holder = this.hosts4.holderAt(address, time);
      if (holder !== NOT_A_HOST) return holder;
    }
    const timeline = this.timelines.lookup4(address);
    return timeline === undefined ? NO_HOLDER : timeline.holderAt(time);
  }

  /** Holder of the IPv6 address at `bytes[offset..offset+16)` at `time`, or NO_HOLDER. Allocation-free. */
  holderOf6(bytes: Uint8Array, offset: number, time: number): number {
    const timeline = this.timelines.lookup6(bytes, offset);
    return timeline === undefined ? NO_HOLDER : timeline.holderAt(time);
  }

  /** Holder ids run from 0 to holderCount - 1. */
  get holderCount(): number {
    return this.holderSubscribers.length;
  }

  /** Subscriber of a holder id returned by holderOf4/holderOf6. */
  subscriberOf(holder: number): string {
    return this.holderSubscribers[holder];
  }

  /** Canonical text of the assigned prefix a holder id stands for, e.g. "2001:db8:1:100::/56". */
  assignedPrefixOf(holder: number): string {
    return this.holderPrefixes[holder];
  }

  /**
   * The lookup part of this index (no subscriber texts) as typed arrays, for
   * HolderLookup.fromTables in another thread: the receive thread attributes with it
   * without building anything (a build of 100,000 rows takes about a second). Holder ids
   * are this index's. O(prefixes); call once per index.
   */
  lookupTables(): HolderLookupTables {
    const { ipv4, ipv6, values } = this.timelines.slotTables();
    const numbers = new Map<OwnershipTimeline, number>();
    const starts: number[] = [0];
    const times: number[] = [];
    const holders: number[] = [];
    const numberOf = (timeline: OwnershipTimeline): number => {
      let n = numbers.get(timeline);
      if (n === undefined) {
        n = numbers.size;
        numbers.set(timeline, n);
        const points = timeline.points();
        for (let k = 0; k < points.times.length; k++) {
          times.push(points.times[k]);
          holders.push(points.holders[k]);
        }
        starts.push(times.length);
      }
      return n;
    };
    const slotTimelines = Int32Array.from(values, numberOf);
    return {
      holderCount: this.holderCount,
      presence4: this.v4Presence.slice(),
      trie4: ipv4,
      trie6: ipv6,
      slotTimelines,
      hostRows: this.hosts4 === null ? new Float64Array(0) : this.hosts4.tables(numberOf),
      timelineStarts: Int32Array.from(starts),
      changeTimes: Float64Array.from(times),
      holders: Int32Array.from(holders),
    };
  }

  /** Convenience for tests and tools (allocates): subscriber holding `address` text at `time`. */
  subscriberAt(address: string, time: number): string | undefined {
    const parsed = parseIpAddress(address);
    const holder = parsed.version === 4 ? this.holderOf4(parsed.value, time) : this.holderOf6(parsed.bytes, 0, time);
    return holder === NO_HOLDER ? undefined : this.holderSubscribers[holder];
  }
}

const NOT_A_HOST = -2;

/** Set the bits of every /16 that the IPv4 prefix network/length overlaps. */
function markPresence(bits: Int32Array, network: number, length: number): void {
  const first = (network >>> 16) & (length >= 16 ? 0xffff : (0xffff << (16 - length)) & 0xffff);
  const count = length >= 16 ? 1 : 2 ** (16 - length);
  for (let k = 0; k < count; k++) {
    const slash16 = first + k;
    bits[slash16 >>> 5] |= 1 << (slash16 & 31);
  }
}

/**
 * The IPv4 /32 assignments (the common case: one address per subscriber) in an
 * open-addressing table, so attributing a record costs one probe instead of a walk down
 * the trie plus the timeline object: with thousands of subscribers hit at random, each
 * trie level and each object is a memory round trip. A /32 is the longest possible match
 * and its stored timeline is the effective one (covering prefixes overlaid at build), so
 * the answer is the trie's. Rows of four doubles: address, start of the single holder
 * (or NaN), that holder (or -1: ask the timeline), timeline number; address -1 = empty.
 */
class HostTable {
  private readonly rows: Float64Array;
  private readonly mask: number;
  private readonly timelines: OwnershipTimeline[] = [];

  constructor(hosts: readonly { address: number; timeline: OwnershipTimeline }[]) {
    let size = 16;
    while (size < hosts.length * 2) size *= 2;
    this.mask = size - 1;
    this.rows = new Float64Array(size * 4).fill(-1);
    for (const { address, timeline } of hosts) {
      let i = hashAddress(address) & this.mask;
      while (this.rows[i * 4] !== -1) i = (i + 1) & this.mask;
      const single = timeline.single;
      this.rows[i * 4] = address;
      this.rows[i * 4 + 1] = single === null ? Number.NaN : single.from;
      this.rows[i * 4 + 2] = single === null ? -1 : single.holder;
      this.rows[i * 4 + 3] = this.timelines.length;
      this.timelines.push(timeline);
    }
  }

  /** The rows (a copy) with the timeline column renumbered by `numberOf`. */
  tables(numberOf: (timeline: OwnershipTimeline) => number): Float64Array {
    const rows = this.rows.slice();
    for (let at = 0; at < rows.length; at += 4) if (rows[at] !== -1) rows[at + 3] = numberOf(this.timelines[rows[at + 3]]);
    return rows;
  }

  /** Holder of a /32-assigned `address` at `time` (or NO_HOLDER); NOT_A_HOST if it has no /32. */
  holderAt(uint32: number, time: number): number {
    const address = uint32 >>> 0;
    const rows = this.rows;
    for (let i = hashAddress(address) & this.mask; ; i = (i + 1) & this.mask) {
      const at = i * 4;
      const a = rows[at];
      if (a === address) {
        const holder = rows[at + 2];
        if (holder >= 0) return time >= rows[at + 1] ? holder : NO_HOLDER;
        return this.timelines[rows[at + 3]].holderAt(time);
      }
      if (a === -1) return NOT_A_HOST;
    }
  }
}

export function hashAddress(address: number): number {
  const h = Math.imul(address, 0x9e3779b1);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Validate one row; pushes a line to `problems` and returns undefined when it is unusable. */
function parseAssignment(
  assignment: SubscriberAssignment,
  row: number,
  problems: string[],
): { prefix: IpPrefix; from: number; to: number } | undefined {
  const where = `row ${row} (subscriber ${JSON.stringify(assignment?.subscriberId)}, prefix ${JSON.stringify(assignment?.prefix)})`;
  const before = problems.length;
  if (typeof assignment?.subscriberId !== 'string' || assignment.subscriberId.length === 0) {
    problems.push(`${where}: subscriberId must be a non-empty string`);
  }
  let prefix: IpPrefix | undefined;
  try {
    prefix = parseAddressOrPrefix(assignment?.prefix);
  } catch (error) {
    if (!(error instanceof InvalidIpError)) throw error;
    problems.push(`${where}: ${error.message}`);
  }
  const from = assignment?.validFrom;
  const to = assignment?.validTo === null ? Infinity : assignment?.validTo;
  if (typeof from !== 'number' || !Number.isFinite(from)) {
    problems.push(`${where}: validFrom must be a finite number of ms since the epoch, got ${String(from)}`);
  } else if (typeof to !== 'number' || Number.isNaN(to) || to === -Infinity) {
    problems.push(`${where}: validTo must be null or a finite number of ms since the epoch, got ${String(to)}`);
  } else if (to <= from) {
    problems.push(`${where}: validTo (${describeTime(to)}) must be after validFrom (${describeTime(from)})`);
  }
  if (problems.length > before || prefix === undefined) return undefined;
  return { prefix, from: from as number, to: to as number };
}

function describeInterval(interval: HeldInterval): string {
  return `[${describeTime(interval.from)}, ${interval.to === Infinity ? 'open' : describeTime(interval.to)})`;
}

function describeTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
