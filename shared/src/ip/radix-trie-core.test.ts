import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4Mask } from './ipv4.js';
import { ipv6NetworkOf, parseIpv6, readIpv6Words } from './ipv6.js';
import { NO_SLOT, RadixTrieCore, type RadixTrieTables } from './radix-trie-core.js';

/** Fixed seeds: the same cases on every run. */
const RUNS = { numRuns: 200 } as const;

interface Entry4 {
  readonly network: number;
  readonly length: number;
}
interface Entry6 {
  readonly network: Uint8Array;
  readonly length: number;
}

// Addresses derived from a few bases, so that nested prefixes and shared compressed edges are common.
const bases4 = [0x0a000000, 0x0a0a0a0a, 0x0a0a0b00, 0xc0000200, 0xffffffff, 0];
const address4 = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc
    .tuple(fc.constantFrom(...bases4), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([base, keep, noise]) => ((base & ipv4Mask(keep)) | (noise & ~ipv4Mask(keep))) >>> 0),
);
const entry4 = fc.tuple(address4, fc.integer({ min: 0, max: 32 })).map(([address, length]): Entry4 => ({ network: (address & ipv4Mask(length)) >>> 0, length }));

const bases6 = ['2001:db8::', '2001:db8:1:100::', '2001:db8:1:1ff::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::'].map((t) => parseIpv6(t));
const address6 = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.tuple(fc.constantFrom(...bases6), fc.integer({ min: 0, max: 128 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([base, keep, noise]) => {
    const mixed = ipv6NetworkOf(base, 0, keep);
    for (let bit = keep; bit < 128; bit++) mixed[bit >>> 3] |= noise[bit >>> 3] & (0x80 >>> (bit & 7));
    return mixed;
  }),
);
const entry6 = fc.tuple(address6, fc.integer({ min: 0, max: 128 })).map(([address, length]): Entry6 => ({ network: ipv6NetworkOf(address, 0, length), length }));

function words6(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(4);
  readIpv6Words(bytes, 0, out);
  return out;
}

// The round-trip tests keep to at most 30 prefixes (at most 61 nodes), so that the default
// capacity of 64 nodes never grows: growing while inserting loses nodes (see the
// "as its arrays grow" tests below), which is not what these tests are about.
function build4(entries: readonly Entry4[], capacity?: number): RadixTrieCore {
  const trie = new RadixTrieCore(1, capacity);
  entries.forEach((entry, slot) => trie.insert([entry.network], entry.length, slot));
  return trie;
}

function build6(entries: readonly Entry6[], capacity?: number): RadixTrieCore {
  const trie = new RadixTrieCore(4, capacity);
  entries.forEach((entry, slot) => trie.insert(words6(entry.network), entry.length, slot));
  return trie;
}

/** Reference: slot of the longest entry containing the address (the last insert wins on equal prefixes). */
function naive4(entries: readonly Entry4[], address: number): number {
  let best = NO_SLOT;
  let bestLength = -1;
  entries.forEach((entry, slot) => {
    if (((address & ipv4Mask(entry.length)) >>> 0) === entry.network && entry.length >= bestLength) {
      best = slot;
      bestLength = entry.length;
    }
  });
  return best;
}

function naive6(entries: readonly Entry6[], address: Uint8Array): number {
  let best = NO_SLOT;
  let bestLength = -1;
  entries.forEach((entry, slot) => {
    const network = ipv6NetworkOf(address, 0, entry.length);
    if (network.every((byte, k) => byte === entry.network[k]) && entry.length >= bestLength) {
      best = slot;
      bestLength = entry.length;
    }
  });
  return best;
}

/** Queries for IPv4 entries: random addresses plus each prefix's first, last and neighbouring addresses. */
function queries4(entries: readonly Entry4[], random: readonly number[]): number[] {
  const out = [...random, 0, 0xffffffff];
  for (const { network, length } of entries) {
    const last = (network | ~ipv4Mask(length)) >>> 0;
    out.push(network, (network - 1) >>> 0, last, (last + 1) >>> 0);
  }
  return out;
}

function queries6(entries: readonly Entry6[], random: readonly Uint8Array[]): Uint8Array[] {
  const out = [...random];
  for (const { network, length } of entries) {
    out.push(network);
    const last = network.slice();
    for (let bit = length; bit < 128; bit++) last[bit >>> 3] |= 0x80 >>> (bit & 7);
    out.push(last);
  }
  return out;
}

describe('RadixTrieCore.tables and fromTables', () => {
  it('rebuild an IPv4 trie with the same longest matches, also after structuredClone', () => {
    fc.assert(
      fc.property(fc.array(entry4, { maxLength: 30 }), fc.array(address4, { minLength: 1, maxLength: 30 }), (entries, random) => {
        const trie = build4(entries);
        const tables = trie.tables();
        const rebuilt = RadixTrieCore.fromTables(tables);
        const cloned = RadixTrieCore.fromTables(structuredClone(tables));
        expect(rebuilt.wordCount).toBe(1);
        expect(rebuilt.maxLength).toBe(32);
        for (const address of queries4(entries, random)) {
          const expected = naive4(entries, address);
          expect(trie.longestMatch32(address)).toBe(expected);
          expect(rebuilt.longestMatch32(address)).toBe(expected);
          expect(cloned.longestMatch32(address)).toBe(expected);
        }
        for (const { network, length } of entries) expect(rebuilt.exact([network], length)).toBe(trie.exact([network], length));
      }),
      { ...RUNS, seed: 4_032 },
    );
  });

  it('rebuild an IPv6 trie with the same longest matches, reading at an offset, also after structuredClone', () => {
    fc.assert(
      fc.property(fc.array(entry6, { maxLength: 30 }), fc.array(address6, { minLength: 1, maxLength: 30 }), (entries, random) => {
        const trie = build6(entries);
        const tables = trie.tables();
        const rebuilt = RadixTrieCore.fromTables(tables);
        const cloned = RadixTrieCore.fromTables(structuredClone(tables));
        expect(rebuilt.wordCount).toBe(4);
        expect(rebuilt.maxLength).toBe(128);
        const addresses = queries6(entries, random);
        const column = new Uint8Array(5 + 16 * addresses.length);
        addresses.forEach((address, row) => column.set(address, 5 + row * 16));
        addresses.forEach((address, row) => {
          const expected = naive6(entries, address);
          expect(trie.longestMatch128(column, 5 + row * 16)).toBe(expected);
          expect(rebuilt.longestMatch128(column, 5 + row * 16)).toBe(expected);
          expect(cloned.longestMatch128(column, 5 + row * 16)).toBe(expected);
        });
      }),
      { ...RUNS, seed: 6_128 },
    );
  });

  it('copies: inserting into the original afterwards changes neither the tables nor the rebuilt trie', () => {
    fc.assert(
      fc.property(
        fc.array(entry4, { minLength: 1, maxLength: 15 }),
        fc.array(entry4, { minLength: 1, maxLength: 15 }),
        fc.array(address4, { minLength: 1, maxLength: 30 }),
        (before, after, random) => {
          const trie = build4(before);
          const tables = trie.tables();
          const snapshot = structuredClone(tables);
          const rebuilt = RadixTrieCore.fromTables(tables);
          // New prefixes (slots after the first ones) and the first prefixes again with new slots.
          after.forEach((entry, k) => trie.insert([entry.network], entry.length, before.length + k));
          before.forEach((entry, k) => trie.insert([entry.network], entry.length, before.length + after.length + k));
          expect(tables).toEqual(snapshot);
          const all = [...before, ...after, ...before];
          for (const address of queries4(all, random)) {
            expect(rebuilt.longestMatch32(address)).toBe(naive4(before, address));
            expect(trie.longestMatch32(address)).toBe(naive4(all, address));
          }
        },
      ),
      { ...RUNS, seed: 1_234 },
    );
  });

  it('gives tables trimmed to the nodes in use', () => {
    const empty = new RadixTrieCore(4).tables();
    expect(empty).toEqual({
      wordCount: 4,
      nodeCount: 1,
      lengths: new Uint8Array([0]),
      keys: new Uint32Array(4),
      children: new Int32Array([-1, -1]),
      slots: new Int32Array([NO_SLOT]),
    });
    const trie = new RadixTrieCore(1, 64);
    trie.insert([0x0a000000], 8, 0);
    trie.insert([0x0a800000], 9, 1);
    trie.insert([0x0b000000], 8, 2); // 10/8 and 11/8 diverge at bit 7: one branch node
    const tables = trie.tables();
    expect(tables.nodeCount).toBe(5);
    // Root, 10/8, 10.128/9 under it, then 11/8 splits 10/8's edge: branch 10/7 and leaf 11/8.
    expect(tables.lengths).toEqual(new Uint8Array([0, 8, 9, 7, 8]));
    expect(tables.keys).toEqual(new Uint32Array([0, 0x0a000000, 0x0a800000, 0x0a000000, 0x0b000000]));
    expect(tables.children).toEqual(new Int32Array([3, -1, -1, 2, -1, -1, 1, 4, -1, -1]));
    expect(tables.slots).toEqual(new Int32Array([NO_SLOT, 0, 1, NO_SLOT, 2]));
  });

  it('answers from the default route in a rebuilt trie', () => {
    const trie = new RadixTrieCore(1);
    trie.insert([0], 0, 7);
    trie.insert([0x0a000000], 8, 8);
    const rebuilt = RadixTrieCore.fromTables(trie.tables());
    expect(rebuilt.longestMatch32(0xc0000201)).toBe(7);
    expect(rebuilt.longestMatch32(0x0a000001)).toBe(8);
  });
});

/**
 * Inserting grows the typed arrays (doubling) when they are full. These cases make an
 * insert that appends a leaf (the parent's child slot was empty) be the one that grows:
 * a trie built with a small capacity, a chain of nested prefixes past the default 64
 * nodes, and a trie from fromTables (its arrays are exactly full).
 */
describe('RadixTrieCore.insert as its arrays grow', () => {
  it('keeps every nested IPv4 prefix when starting from a capacity of 2', () => {
    const entries: Entry4[] = [
      { network: 0x0a000000, length: 8 },
      { network: 0x0a010000, length: 16 },
      { network: 0x0a010200, length: 24 },
      { network: 0x0a010203, length: 32 },
    ];
    const trie = build4(entries, 2);
    entries.forEach(({ network, length }, slot) => expect(trie.exact([network], length), `${network.toString(16)}/${length}`).toBe(slot));
    expect(trie.longestMatch32(0x0a01ffff)).toBe(1);
    expect(trie.longestMatch32(0x0a0102ff)).toBe(2);
  });

  it('keeps every prefix of a chain of 80 nested IPv6 prefixes (default capacity)', () => {
    const ones = new Uint8Array(16).fill(0xff);
    const entries: Entry6[] = Array.from({ length: 80 }, (_, k) => ({ network: ipv6NetworkOf(ones, 0, k + 1), length: k + 1 }));
    const trie = build6(entries);
    const missing = entries.filter(({ network, length }, slot) => trie.exact(words6(network), length) !== slot).map((e) => `/${e.length}`);
    expect(missing).toEqual([]);
    for (const entry of entries) {
      // Inside this prefix, outside the next longer one.
      const address = entry.network.slice();
      if (entry.length < 128) address[entry.length >>> 3] &= ~(0x80 >>> (entry.length & 7));
      expect(trie.longestMatch128(address, 0), `/${entry.length}`).toBe(naive6(entries, address));
    }
  });

  it('agrees with a linear scan on random prefixes from a capacity of 2', () => {
    fc.assert(
      fc.property(fc.array(entry4, { maxLength: 60 }), fc.array(address4, { minLength: 1, maxLength: 30 }), (entries, random) => {
        const trie = build4(entries, 2);
        for (const address of queries4(entries, random)) expect(trie.longestMatch32(address)).toBe(naive4(entries, address));
        const rebuilt = RadixTrieCore.fromTables(trie.tables());
        for (const address of queries4(entries, random)) expect(rebuilt.longestMatch32(address)).toBe(naive4(entries, address));
      }),
      { ...RUNS, seed: 2_222 },
    );
  });

  it('lets a rebuilt trie (arrays exactly full) take further inserts', () => {
    const entries: Entry4[] = [
      { network: 0x0a000000, length: 8 },
      { network: 0x0a010000, length: 16 },
      { network: 0x0a010203, length: 32 },
    ];
    const rebuilt = RadixTrieCore.fromTables(build4(entries).tables());
    // The first insert appends a leaf (the root's 1-side is empty) to arrays that are full.
    const more: Entry4[] = [...entries, { network: 0xc0000200, length: 24 }, { network: 0x0a010200, length: 24 }, { network: 0x0a800000, length: 9 }];
    more.slice(entries.length).forEach((entry, k) => rebuilt.insert([entry.network], entry.length, entries.length + k));
    for (const address of queries4(more, [0x0a010299, 0x0a810000, 0xc00002ff, 0x0b000000])) expect(rebuilt.longestMatch32(address)).toBe(naive4(more, address));
  });
});

describe('RadixTrieCore.fromTables rejects inconsistent tables', () => {
  const good4 = (): RadixTrieTables => build4([
    { network: 0x0a000000, length: 8 },
    { network: 0x0a010000, length: 16 },
    { network: 0x0b000000, length: 8 },
  ]).tables();
  const good6 = (): RadixTrieTables => build6([{ network: parseIpv6('2001:db8::'), length: 32 }, { network: parseIpv6('2001:db8:1::'), length: 48 }]).tables();

  it('accepts the undamaged tables (child n - 1 is in range)', () => {
    const t = good4();
    expect(t.nodeCount).toBe(5);
    expect(Math.max(...t.children)).toBe(t.nodeCount - 1);
    expect(RadixTrieCore.fromTables(t).longestMatch32(0x0a010101)).toBe(1);
    expect(RadixTrieCore.fromTables(good6()).longestMatch128(parseIpv6('2001:db8:1::1'), 0)).toBe(1);
  });

  const withChild = (t: RadixTrieTables, child: number): RadixTrieTables => {
    const children = t.children.slice();
    children[children.indexOf(-1)] = child;
    return { ...t, children };
  };

  it.each<[string, () => RadixTrieTables, RegExp]>([
    ['a word count of 2', () => ({ ...good4(), wordCount: 2 as 1 }), /not a trie: wordCount 2, nodeCount 5/],
    ['no nodes (not even the root)', () => ({ ...good4(), nodeCount: 0 }), /not a trie: wordCount 1, nodeCount 0/],
    ['a fractional node count', () => ({ ...good4(), nodeCount: 3.5 }), /nodeCount 3\.5/],
    ['a node count above the arrays', () => ({ ...good4(), nodeCount: 6 }), /table sizes do not match its node count/],
    ['a node count below the arrays', () => ({ ...good4(), nodeCount: 4 }), /table sizes do not match its node count/],
    ['short lengths', () => ({ ...good4(), lengths: good4().lengths.slice(0, 4) }), /table sizes do not match/],
    ['IPv6 keys of one word per node', () => ({ ...good6(), keys: good6().keys.slice(0, good6().nodeCount) }), /table sizes do not match/],
    ['IPv4 tables claiming four words per key', () => ({ ...good4(), wordCount: 4 }), /table sizes do not match/],
    ['one child per node', () => ({ ...good4(), children: good4().children.slice(0, 5) }), /table sizes do not match/],
    ['extra slots', () => ({ ...good4(), slots: new Int32Array(6).fill(NO_SLOT) }), /table sizes do not match/],
    ['a child equal to the node count', () => withChild(good4(), 5), /not a trie: child 5 outside 1\.\.4/],
    ['a child far past the nodes', () => withChild(good6(), 1_000_000), /not a trie: child 1000000 outside 1\.\.\d/],
    ['a child pointing at the root', () => withChild(good4(), 0), /not a trie: child 0 outside 1\.\.4/],
    ['a negative child other than "none"', () => withChild(good4(), -2), /not a trie: child -2 outside 1\.\.4/],
  ])('rejects %s with a RangeError', (_, make, message) => {
    const tables = make();
    expect(() => RadixTrieCore.fromTables(tables)).toThrow(RangeError);
    expect(() => RadixTrieCore.fromTables(tables)).toThrow(message);
  });

  it('rejects a child that is not longer than its parent (a cycle: lookups would never return)', () => {
    const t = good4();
    // Make some node with a child its own child.
    const node = [...Array(t.nodeCount).keys()].find((k) => k > 0 && (t.children[2 * k] !== -1 || t.children[2 * k + 1] !== -1)) ?? 1;
    const children = t.children.slice();
    children[2 * node] = node;
    expect(() => RadixTrieCore.fromTables({ ...t, children })).toThrow(/is not longer than its parent/);
  });

  it('rejects a node length above the key width, and a root that is not of length 0', () => {
    const t = good4();
    const lengths = t.lengths.slice();
    lengths[t.nodeCount - 1] = 200;
    expect(() => RadixTrieCore.fromTables({ ...t, lengths })).toThrow(/has length 200 > 32/);
    const root = t.lengths.slice();
    root[0] = 1;
    expect(() => RadixTrieCore.fromTables({ ...t, lengths: root })).toThrow(/the root has length 1/);
  });
});
