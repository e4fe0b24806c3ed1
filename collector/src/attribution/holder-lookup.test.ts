import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6, ipv4Mask, ipv6NetworkOf, NO_SLOT, parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';
import { mulberry32 } from '../pcap/prng.js';
import { HolderLookup, type HolderLookupTables } from './holder-lookup.js';
import { NO_HOLDER, type SubscriberAssignment, SubscriberIndex } from './subscriber-index.js';

const T0 = Date.parse('2025-03-01T00:00:00Z');
const STEP = 60_000;

/** Deterministic PRNG: the same seed gives the same table and queries. */
const seededRandom = mulberry32;

class Dice {
  constructor(private readonly next: () => number) {}
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  uint32(): number {
    return (this.int(0, 0xffff) * 0x10000 + this.int(0, 0xffff)) >>> 0;
  }
  bytes16(): Uint8Array {
    return Uint8Array.from({ length: 16 }, () => this.int(0, 255));
  }
  shuffle<T>(items: T[]): T[] {
    for (let k = items.length - 1; k > 0; k--) {
      const j = this.int(0, k);
      [items[k], items[j]] = [items[j], items[k]];
    }
    return items;
  }
}

interface Prefix4 {
  readonly network: number;
  readonly length: number;
}
interface Prefix6 {
  readonly network: Uint8Array;
  readonly length: number;
}

/** `bits` with every bit at or after `from` taken from `noise`. */
function mix6(bits: Uint8Array, noise: Uint8Array, from: number): Uint8Array {
  const out = bits.slice();
  for (let bit = from; bit < 128; bit++) {
    const mask = 0x80 >>> (bit & 7);
    out[bit >>> 3] = (out[bit >>> 3] & ~mask) | (noise[bit >>> 3] & mask);
  }
  return out;
}

/** The last address of an IPv6 prefix (every host bit set). */
function last6(prefix: Prefix6): Uint8Array {
  return mix6(prefix.network, new Uint8Array(16).fill(0xff), prefix.length);
}

/** 128-bit address plus `delta` (+1 or -1), wrapping. */
function step6(address: Uint8Array, delta: 1 | -1): Uint8Array {
  const out = address.slice();
  for (let k = 15; k >= 0; k--) {
    const value = out[k] + delta;
    out[k] = value & 0xff;
    if (value >= 0 && value <= 0xff) break;
  }
  return out;
}

interface RandomTable {
  readonly rows: SubscriberAssignment[];
  readonly addresses4: number[];
  readonly addresses6: Uint8Array[];
  readonly times: number[];
}

const SUBSCRIBERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const BASES4 = [0x0a000000, 0x64400000, 0xc0a80000, 0xfffffff0, 0];
const BASES6 = ['2001:db8::', '2001:db8:1:100::', 'fd00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::'].map((t) => parseIpv6(t));

/**
 * A random assignment table: nested IPv4 prefixes (/8../31) with /32 hosts inside and
 * outside them, nested IPv6 prefixes (/32../128), each prefix with one to three disjoint
 * validity intervals (reassignments, some exactly at the previous end, the last one
 * sometimes open), plus the query addresses (prefix edges, inside, outside) and times
 * (around every change point).
 */
function randomTable(seed: number, scale = 1): RandomTable {
  const dice = new Dice(seededRandom(seed));
  const prefixes4 = new Map<string, Prefix4>();
  const prefixes6 = new Map<string, Prefix6>();
  const add4 = (network: number, length: number) => prefixes4.set(`${network >>> 0}/${length}`, { network: network >>> 0, length });
  const add6 = (network: Uint8Array, length: number) => prefixes6.set(`${formatIpv6(network)}/${length}`, { network, length });

  for (let k = dice.int(1, 3) * scale; k > 0; k--) {
    const length = dice.int(8, 20);
    const base = dice.chance(0.5) ? dice.pick(BASES4) : dice.uint32();
    add4(base & ipv4Mask(length), length);
  }
  for (let k = dice.int(4, 16) * scale; k > 0; k--) {
    const parents = [...prefixes4.values()].filter((p) => p.length < 31);
    const parent = dice.pick(parents);
    const host = dice.chance(0.4);
    const length = host ? 32 : dice.int(parent.length + 1, 31);
    const inside = (parent.network | (dice.uint32() & ~ipv4Mask(parent.length))) >>> 0;
    add4(inside & ipv4Mask(length), length);
  }
  // Hosts with no covering prefix: random, and next to a prefix (same /16, maybe just outside).
  for (let k = dice.int(0, 6) * scale; k > 0; k--) {
    if (dice.chance(0.5)) add4(dice.uint32(), 32);
    else {
      const near = dice.pick([...prefixes4.values()]);
      add4((near.network & 0xffff0000) | dice.int(0, 0xffff), 32);
    }
  }

  for (let k = dice.int(1, 2) * scale; k > 0; k--) {
    const length = dice.int(32, 48);
    add6(ipv6NetworkOf(dice.chance(0.6) ? dice.pick(BASES6) : dice.bytes16(), 0, length), length);
  }
  for (let k = dice.int(3, 12) * scale; k > 0; k--) {
    const parents = [...prefixes6.values()].filter((p) => p.length < 127);
    const parent = dice.pick(parents);
    const length = dice.chance(0.3) ? 128 : dice.int(parent.length + 1, 127);
    add6(ipv6NetworkOf(mix6(parent.network, dice.bytes16(), parent.length), 0, length), length);
  }
  if (dice.chance(0.5)) add6(dice.bytes16(), 128);

  const texts: string[] = [];
  for (const p of prefixes4.values()) texts.push(p.length === 32 && dice.chance(0.5) ? formatIpv4(p.network) : `${formatIpv4(p.network)}/${p.length}`);
  for (const p of prefixes6.values()) texts.push(p.length === 128 && dice.chance(0.5) ? formatIpv6(p.network) : `${formatIpv6(p.network)}/${p.length}`);

  const rows: SubscriberAssignment[] = [];
  const changeSteps = new Set<number>();
  for (const prefix of texts) {
    let cursor = dice.int(0, 6);
    const intervals = dice.int(1, 3);
    for (let k = 0; k < intervals; k++) {
      // Gap 0: reassigned exactly when the previous holder's interval ends.
      const from = k === 0 ? cursor : cursor + dice.pick([0, 0, 1, 2]);
      const span = dice.int(1, 5);
      const open = k === intervals - 1 && dice.chance(0.5);
      const subscriberId = dice.pick(SUBSCRIBERS);
      rows.push({ subscriberId, prefix, validFrom: T0 + from * STEP, validTo: open ? (dice.chance(0.8) ? null : Infinity) : T0 + (from + span) * STEP });
      changeSteps.add(from);
      if (!open) changeSteps.add(from + span);
      // Same subscriber again over part of the interval: merged by the index, not a conflict.
      if (dice.chance(0.1)) rows.push({ subscriberId, prefix, validFrom: T0 + from * STEP, validTo: T0 + (from + 1) * STEP });
      cursor = from + span;
    }
  }
  dice.shuffle(rows);

  const times = [T0 - 365 * 86_400_000, T0 - 1, T0 + 100 * STEP, Number.MAX_SAFE_INTEGER];
  for (const s of changeSteps) times.push(T0 + s * STEP - 1, T0 + s * STEP, T0 + s * STEP + 1, T0 + s * STEP + STEP / 2);

  const addresses4: number[] = [];
  for (const p of prefixes4.values()) {
    const last = (p.network | ~ipv4Mask(p.length)) >>> 0;
    addresses4.push(p.network, (p.network - 1) >>> 0, last, (last + 1) >>> 0, (p.network | (dice.uint32() & ~ipv4Mask(p.length))) >>> 0);
  }
  for (let k = 0; k < 20; k++) addresses4.push(dice.uint32());
  addresses4.push(0, 0xffffffff);
  // The same addresses as signed int32 (what an Int32Array column would hold).
  for (const a of [...addresses4]) if (a >= 0x80000000) addresses4.push(a | 0);

  const addresses6: Uint8Array[] = [];
  for (const p of prefixes6.values()) {
    const last = last6(p);
    addresses6.push(p.network, step6(p.network, -1), last, step6(last, 1), mix6(p.network, dice.bytes16(), p.length));
  }
  for (let k = 0; k < 10; k++) addresses6.push(dice.bytes16());
  addresses6.push(new Uint8Array(16), new Uint8Array(16).fill(0xff));

  return { rows, addresses4, addresses6, times };
}

interface Comparison {
  readonly lookups: number;
  readonly held: number;
  readonly mismatches: string[];
}

/** Every query of `table` on `lookup` against the index; the mismatches as text. */
function compare(index: SubscriberIndex, lookup: HolderLookup, table: RandomTable): Comparison {
  const mismatches: string[] = [];
  let lookups = 0;
  let held = 0;
  for (const address of table.addresses4) {
    for (const time of table.times) {
      const expected = index.holderOf4(address, time);
      const actual = lookup.holderOf4(address, time);
      lookups++;
      if (expected !== NO_HOLDER) held++;
      if (actual !== expected && mismatches.length < 20) mismatches.push(`${formatIpv4(address >>> 0)} (${address}) at ${time}: index ${expected}, lookup ${actual}`);
    }
  }
  // One column, read at odd offsets as FlowBatch columns are read at row * 16.
  const column = new Uint8Array(3 + 16 * table.addresses6.length);
  table.addresses6.forEach((address, row) => column.set(address, 3 + row * 16));
  for (let row = 0; row < table.addresses6.length; row++) {
    for (const time of table.times) {
      const expected = index.holderOf6(column, 3 + row * 16, time);
      const actual = lookup.holderOf6(column, 3 + row * 16, time);
      lookups++;
      if (expected !== NO_HOLDER) held++;
      if (actual !== expected && mismatches.length < 20) mismatches.push(`${formatIpv6(table.addresses6[row])} at ${time}: index ${expected}, lookup ${actual}`);
    }
  }
  return { lookups, held, mismatches };
}

/** A permutation of 0..count-1 that moves something when count > 1: result[newPosition] = old. */
function permutation(count: number, dice: Dice): number[] {
  const order = dice.shuffle(Array.from({ length: count }, (_, k) => k));
  if (count > 1 && order.every((old, position) => old === position)) order.reverse();
  return order;
}

/**
 * The same lookup data with the timelines and the trie slots numbered in another order
 * (as another sender could lay them out): the answers must not change. lookupTables
 * numbers timelines in slot order, so this is what tells "slot" and "timeline" apart.
 */
function renumbered(t: HolderLookupTables, dice: Dice): HolderLookupTables {
  const timelineOrder = permutation(t.timelineStarts.length - 1, dice);
  const newTimeline = new Int32Array(timelineOrder.length);
  timelineOrder.forEach((old, position) => (newTimeline[old] = position));
  const starts = [0];
  const times: number[] = [];
  const holders: number[] = [];
  for (const old of timelineOrder) {
    for (let k = t.timelineStarts[old]; k < t.timelineStarts[old + 1]; k++) {
      times.push(t.changeTimes[k]);
      holders.push(t.holders[k]);
    }
    starts.push(times.length);
  }
  const slotOrder = permutation(t.slotTimelines.length, dice);
  const newSlot = new Int32Array(slotOrder.length);
  slotOrder.forEach((old, position) => (newSlot[old] = position));
  const slotTimelines = Int32Array.from(slotOrder, (old) => newTimeline[t.slotTimelines[old]]);
  const reslot = (slots: Int32Array) => slots.map((slot) => (slot === NO_SLOT ? slot : newSlot[slot]));
  const hostRows = t.hostRows.slice();
  for (let at = 0; at < hostRows.length; at += 4) if (hostRows[at] !== -1) hostRows[at + 3] = newTimeline[hostRows[at + 3]];
  return {
    ...t,
    trie4: { ...t.trie4, slots: reslot(t.trie4.slots) },
    trie6: { ...t.trie6, slots: reslot(t.trie6.slots) },
    slotTimelines,
    hostRows,
    timelineStarts: Int32Array.from(starts),
    changeTimes: Float64Array.from(times),
    holders: Int32Array.from(holders),
  };
}

describe('HolderLookup agrees with the SubscriberIndex it was made from', () => {
  const SEEDS = Array.from({ length: 60 }, (_, k) => 0x5eed + k * 7919);

  it('on random nested IPv4/IPv6 tables with reassignments, directly and after structuredClone', () => {
    let lookups = 0;
    let held = 0;
    let multiPointTimelines = 0;
    let hostRows = 0;
    for (const seed of SEEDS) {
      const table = randomTable(seed);
      const index = SubscriberIndex.build(table.rows);
      const tables = index.lookupTables();
      const direct = HolderLookup.fromTables(tables);
      const cloned = HolderLookup.fromTables(structuredClone(tables));
      expect(direct.holderCount, `seed ${seed}`).toBe(index.holderCount);
      expect(cloned.holderCount, `seed ${seed}`).toBe(index.holderCount);
      for (const [name, lookup] of [['direct', direct], ['structuredClone', cloned]] as const) {
        const result = compare(index, lookup, table);
        expect(result.mismatches, `seed ${seed}, ${name}`).toEqual([]);
        lookups += result.lookups;
        held += result.held;
      }
      for (let t = 0; t + 1 < tables.timelineStarts.length; t++) if (tables.timelineStarts[t + 1] - tables.timelineStarts[t] > 1) multiPointTimelines++;
      for (let at = 0; at < tables.hostRows.length; at += 4) if (tables.hostRows[at] !== -1) hostRows++;
    }
    // The queries must exercise held and unheld addresses, reassignments and the /32 table.
    expect(held).toBeGreaterThan(lookups * 0.15);
    expect(held).toBeLessThan(lookups * 0.85);
    expect(multiPointTimelines).toBeGreaterThan(10 * SEEDS.length);
    expect(hostRows).toBeGreaterThan(3 * SEEDS.length);
  });

  it('on larger tables (hundreds of prefixes, a host table of many rows)', () => {
    for (const seed of [11, 22, 33]) {
      const table = randomTable(seed, 25);
      const index = SubscriberIndex.build(table.rows);
      const tables = index.lookupTables();
      expect(tables.hostRows.length / 4, `seed ${seed}`).toBeGreaterThanOrEqual(128);
      expect(compare(index, HolderLookup.fromTables(structuredClone(tables)), table).mismatches, `seed ${seed}`).toEqual([]);
    }
  });

  it('whatever order the tables number timelines and slots in', () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const table = randomTable(seed);
      const index = SubscriberIndex.build(table.rows);
      const lookup = HolderLookup.fromTables(renumbered(index.lookupTables(), new Dice(seededRandom(seed ^ 0xabcdef))));
      expect(compare(index, lookup, table).mismatches, `seed ${seed}`).toEqual([]);
    }
  });

  it('notices a wrong holder in the tables (the comparison has teeth)', () => {
    const table = randomTable(SEEDS[0]);
    const index = SubscriberIndex.build(table.rows);
    const tables = index.lookupTables();
    const holders = tables.holders.slice();
    const k = holders.findIndex((h) => h !== NO_HOLDER);
    holders[k] = holders[k] === 0 ? 1 : 0;
    expect(compare(index, HolderLookup.fromTables({ ...tables, holders }), table).mismatches).not.toEqual([]);
  });

  it('after a postMessage copy through a MessageChannel', () => {
    const table = randomTable(4242);
    const index = SubscriberIndex.build(table.rows);
    const { port1, port2 } = new MessageChannel();
    try {
      port1.postMessage({ type: 'index', generation: 1, tables: index.lookupTables() });
      const received = receiveMessageOnPort(port2)?.message as { tables: HolderLookupTables };
      const lookup = HolderLookup.fromTables(received.tables);
      expect(received.tables.changeTimes).toBeInstanceOf(Float64Array);
      expect(compare(index, lookup, table).mismatches).toEqual([]);
    } finally {
      port1.close();
      port2.close();
    }
  });
});

describe('HolderLookup on a small known table', () => {
  const change = T0 + 30 * STEP;
  const index = SubscriberIndex.build([
    { subscriberId: 'pool', prefix: '100.64.0.0/24', validFrom: T0, validTo: null },
    { subscriberId: 'old', prefix: '100.64.0.7', validFrom: T0, validTo: change },
    { subscriberId: 'new', prefix: '100.64.0.7', validFrom: change, validTo: null },
    { subscriberId: 'lone', prefix: '198.51.100.9', validFrom: T0, validTo: null },
    { subscriberId: 'wide', prefix: '10.0.0.0/8', validFrom: T0, validTo: change },
    { subscriberId: 'site', prefix: '2001:db8:1::/48', validFrom: T0, validTo: null },
    { subscriberId: 'trial', prefix: '2001:db8:1:1a0::/64', validFrom: T0 + STEP, validTo: change },
  ]);
  const lookup = HolderLookup.fromTables(structuredClone(index.lookupTables()));
  const name = (holder: number) => (holder === NO_HOLDER ? undefined : `${index.subscriberOf(holder)} ${index.assignedPrefixOf(holder)}`);
  const v6 = (text: string, time: number) => name(lookup.holderOf6(parseIpv6(text), 0, time));

  it.each([
    ['100.64.0.7', change - 1, 'old 100.64.0.7/32'],
    ['100.64.0.7', change, 'new 100.64.0.7/32'],
    ['100.64.0.7', T0 - 1, undefined],
    ['100.64.0.8', change, 'pool 100.64.0.0/24'],
    ['100.64.1.0', change, undefined],
    ['198.51.100.9', T0, 'lone 198.51.100.9/32'],
    ['198.51.100.10', T0, undefined],
    ['10.255.255.255', change - 1, 'wide 10.0.0.0/8'],
    ['10.255.255.255', change, undefined],
  ])('%s at %d is %s', (address, time, expected) => {
    expect(name(lookup.holderOf4(parseIpv4(address), time))).toBe(expected);
  });

  it('finds IPv6 prefixes only while the more specific one is valid', () => {
    expect(v6('2001:db8:1:1a0::9', T0)).toBe('site 2001:db8:1::/48');
    expect(v6('2001:db8:1:1a0::9', T0 + STEP)).toBe('trial 2001:db8:1:1a0::/64');
    expect(v6('2001:db8:1:1a0::9', change)).toBe('site 2001:db8:1::/48');
    expect(v6('2001:db8:2::', change)).toBeUndefined();
  });
});

describe('HolderLookup with nothing assigned', () => {
  const probes4 = [0, 1, 0x0a000001, 0x64400007, 0x7fffffff, 0x80000000, 0xffffffff, -1];
  const probes6 = ['::', '2001:db8::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map((t) => parseIpv6(t));
  const times = [Number.MIN_SAFE_INTEGER, 0, T0, Number.MAX_SAFE_INTEGER];

  it.each([
    ['SubscriberIndex.EMPTY.lookupTables()', () => HolderLookup.fromTables(SubscriberIndex.EMPTY.lookupTables())],
    ['an index built from no rows', () => HolderLookup.fromTables(SubscriberIndex.build([]).lookupTables())],
    ['HolderLookup.EMPTY', () => HolderLookup.EMPTY],
  ])('%s finds no holder anywhere', (_, make) => {
    const lookup = make();
    expect(lookup.holderCount).toBe(0);
    expect(lookup.holderCount).toBe(SubscriberIndex.EMPTY.holderCount);
    for (const time of times) {
      for (const address of probes4) expect(lookup.holderOf4(address, time)).toBe(NO_HOLDER);
      for (const address of probes6) expect(lookup.holderOf6(address, 0, time)).toBe(NO_HOLDER);
    }
  });

  it('builds empty tables that survive structuredClone', () => {
    const tables = structuredClone(SubscriberIndex.EMPTY.lookupTables());
    expect(tables.holderCount).toBe(0);
    expect(tables.hostRows.length).toBe(0);
    expect(Array.from(tables.timelineStarts)).toEqual([0]);
    expect(HolderLookup.fromTables(tables).holderOf4(0x64400007, T0)).toBe(NO_HOLDER);
  });
});

describe('HolderLookup.fromTables rejects inconsistent tables', () => {
  // Holders 0 (alice 100.64.0.0/24), 1 (bob 100.64.0.7), 2 (carol 100.64.0.7), 3 (dave 2001:db8::/32).
  const index = SubscriberIndex.build([
    { subscriberId: 'alice', prefix: '100.64.0.0/24', validFrom: T0, validTo: null },
    { subscriberId: 'bob', prefix: '100.64.0.7', validFrom: T0, validTo: T0 + STEP },
    { subscriberId: 'carol', prefix: '100.64.0.7', validFrom: T0 + STEP, validTo: null },
    { subscriberId: 'dave', prefix: '2001:db8::/32', validFrom: T0, validTo: null },
  ]);
  /** Fresh, valid tables for each case to damage. */
  const good = (): HolderLookupTables => index.lookupTables();
  const hostRowAt = (t: HolderLookupTables) => {
    for (let at = 0; at < t.hostRows.length; at += 4) if (t.hostRows[at] !== -1) return at;
    throw new Error('no host row');
  };
  const slotNode = (slots: Int32Array) => slots.findIndex((s) => s !== NO_SLOT);

  it('accepts the undamaged tables', () => {
    const t = good();
    expect(t.holderCount).toBe(4);
    expect(HolderLookup.fromTables(t).holderOf4(0x64400007, T0 + STEP)).toBe(2);
    expect(hostRowAt(t)).toBeGreaterThanOrEqual(0);
  });

  const cases: Array<[string, () => HolderLookupTables, RegExp]> = [
    ['a holder id equal to holderCount', () => ({ ...good(), holderCount: 2 }), /holder lookup tables: holder [23] outside 0\.\.1/],
    [
      'a timeline holder >= holderCount',
      () => {
        const t = good();
        const holders = t.holders.slice();
        holders[0] = 4;
        return { ...t, holders };
      },
      /holder 4 outside 0\.\.3/,
    ],
    [
      'a negative holder other than NO_HOLDER',
      () => {
        const t = good();
        const holders = t.holders.slice();
        holders[0] = -2;
        return { ...t, holders };
      },
      /holder -2 outside 0\.\.3/,
    ],
    ['a negative holderCount', () => ({ ...good(), holderCount: -1 }), /holderCount -1/],
    ['a fractional holderCount', () => ({ ...good(), holderCount: 4.5 }), /holderCount 4\.5/],
    [
      'an IPv4 trie slot past slotTimelines',
      () => {
        const t = good();
        const slots = t.trie4.slots.slice();
        slots[slotNode(slots)] = t.slotTimelines.length;
        return { ...t, trie4: { ...t.trie4, slots } };
      },
      /slot 3 outside the slot table/,
    ],
    [
      'an IPv6 trie slot past slotTimelines',
      () => {
        const t = good();
        const slots = t.trie6.slots.slice();
        slots[slotNode(slots)] = 99;
        return { ...t, trie6: { ...t.trie6, slots } };
      },
      /slot 99 outside the slot table/,
    ],
    ['slotTimelines cut short', () => ({ ...good(), slotTimelines: good().slotTimelines.slice(0, 1) }), /slot \d outside the slot table/],
    [
      'a slot timeline number past the timelines',
      () => {
        const t = good();
        const slotTimelines = t.slotTimelines.slice();
        slotTimelines[0] = t.timelineStarts.length - 1;
        return { ...t, slotTimelines };
      },
      /timeline \d outside 0\.\.\d/,
    ],
    [
      'an IPv4 trie child index past the nodes',
      () => {
        const t = good();
        const children = t.trie4.children.slice();
        children[children.indexOf(-1)] = t.trie4.nodeCount;
        return { ...t, trie4: { ...t.trie4, children } };
      },
      /not a trie: child \d+ outside 1\.\.\d+/,
    ],
    [
      'an IPv6 trie child pointing back at the root',
      () => {
        const t = good();
        const children = t.trie6.children.slice();
        children[children.indexOf(-1)] = 0;
        return { ...t, trie6: { ...t.trie6, children } };
      },
      /not a trie: child 0 outside 1\.\./,
    ],
    [
      'a trie whose arrays do not match its node count',
      () => {
        const t = good();
        return { ...t, trie4: { ...t.trie4, nodeCount: t.trie4.nodeCount + 1 } };
      },
      /not a trie: table sizes do not match its node count/,
    ],
    [
      'the IPv4 and IPv6 tries swapped',
      () => {
        const t = good();
        return { ...t, trie4: t.trie6, trie6: t.trie4 };
      },
      /trie word counts/,
    ],
    ['a presence bitmap of the wrong size', () => ({ ...good(), presence4: new Int32Array(1024) }), /presence bitmap of 1024 words, not 2048/],
    [
      'a host table with no empty row',
      () => {
        const t = good();
        const at = hostRowAt(t);
        const hostRows = t.hostRows.slice();
        // Every row a copy of the real one, with a different address: full, so a miss would probe forever.
        for (let row = 0; row < hostRows.length; row += 4) {
          hostRows.set(t.hostRows.subarray(at, at + 4), row);
          hostRows[row] = 0x64400000 + row / 4;
        }
        return { ...t, hostRows };
      },
      /host table has no empty row/,
    ],
    [
      'a host table of one full row',
      () => {
        const t = good();
        const at = hostRowAt(t);
        return { ...t, hostRows: t.hostRows.slice(at, at + 4) };
      },
      /host table has no empty row/,
    ],
    [
      'a host table whose row count is not a power of two',
      () => {
        const t = good();
        const hostRows = new Float64Array(12 * 4).fill(-1);
        hostRows.set(t.hostRows.subarray(hostRowAt(t), hostRowAt(t) + 4), 0);
        return { ...t, hostRows };
      },
      /host table of 48 doubles/,
    ],
    ['a host table of partial rows', () => ({ ...good(), hostRows: new Float64Array(66).fill(-1) }), /host table of 66 doubles/],
    [
      'a host row holder >= holderCount',
      () => {
        const t = good();
        const hostRows = t.hostRows.slice();
        const at = hostRowAt(t);
        hostRows[at + 2] = 4;
        return { ...t, hostRows };
      },
      /host holder 4/,
    ],
    [
      'a host row timeline past the timelines',
      () => {
        const t = good();
        const hostRows = t.hostRows.slice();
        hostRows[hostRowAt(t) + 3] = t.timelineStarts.length - 1;
        return { ...t, hostRows };
      },
      /host timeline \d/,
    ],
    [
      'timeline offsets ending before the change times do',
      () => {
        const t = good();
        return { ...t, changeTimes: Float64Array.from([...t.changeTimes, T0 + 9 * STEP]), holders: Int32Array.from([...t.holders, 0]) };
      },
      /timeline offsets/,
    ],
    [
      'timeline offsets ending after the change times do',
      () => {
        const t = good();
        const timelineStarts = t.timelineStarts.slice();
        timelineStarts[timelineStarts.length - 1]++;
        return { ...t, timelineStarts };
      },
      /timeline offsets/,
    ],
    [
      'holders and change times of different lengths',
      () => {
        const t = good();
        return { ...t, holders: t.holders.slice(0, -1) };
      },
      /timeline offsets/,
    ],
    [
      'timeline offsets not starting at 0',
      () => {
        const t = good();
        const timelineStarts = t.timelineStarts.slice();
        timelineStarts[0] = 1;
        return { ...t, timelineStarts };
      },
      /timeline offsets/,
    ],
    [
      'decreasing timeline offsets',
      () => {
        const t = good();
        const timelineStarts = t.timelineStarts.slice();
        expect(timelineStarts.length).toBeGreaterThanOrEqual(3);
        timelineStarts[1] = t.changeTimes.length + 1;
        return { ...t, timelineStarts };
      },
      /timeline offsets decrease/,
    ],
    ['no timeline offsets at all', () => ({ ...good(), timelineStarts: new Int32Array(0) }), /timeline offsets/],
  ];

  it.each(cases)('rejects %s', (_, make, message) => {
    const tables = make();
    expect(() => HolderLookup.fromTables(tables)).toThrow(RangeError);
    expect(() => HolderLookup.fromTables(tables)).toThrow(message);
  });
});
