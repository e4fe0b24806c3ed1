import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4Mask, parseIpv4 } from './ipv4.js';
import { ipv6NetworkOf, parseIpv6 } from './ipv6.js';
import { type IpPrefix, prefixContainsIpv4, prefixContainsIpv6, samePrefix } from './prefix.js';
import { PrefixTrie } from './prefix-trie.js';
import { NO_SLOT, RadixTrieCore } from './radix-trie-core.js';

describe('PrefixTrie with IPv4', () => {
  const trie = new PrefixTrie<string>()
    .insert('10.0.0.0/8', 'ten')
    .insert('10.1.0.0/16', 'ten-one')
    .insert('10.1.2.0/24', 'ten-one-two')
    .insert('10.1.2.3/32', 'host')
    .insert('192.0.2.0/24', 'doc');

  it('returns the value of the longest matching prefix', () => {
    expect(trie.lookupText('10.1.2.3')).toBe('host');
    expect(trie.lookupText('10.1.2.4')).toBe('ten-one-two');
    expect(trie.lookupText('10.1.3.1')).toBe('ten-one');
    expect(trie.lookupText('10.2.0.0')).toBe('ten');
    expect(trie.lookupText('192.0.2.255')).toBe('doc');
  });

  it('returns undefined when nothing matches', () => {
    expect(trie.lookupText('11.0.0.0')).toBeUndefined();
    expect(trie.lookupText('192.0.3.0')).toBeUndefined();
    expect(trie.lookup4(0)).toBeUndefined();
    expect(trie.lookup4(0xffffffff)).toBeUndefined();
  });

  it('looks up numeric addresses, including ones above 2^31', () => {
    expect(trie.lookup4(0x0a010203)).toBe('host');
    expect(trie.lookup4(0xc0000201)).toBe('doc');
  });

  it('matches everything with a default route', () => {
    const withDefault = new PrefixTrie<string>().insert('0.0.0.0/0', 'default').insert('10.0.0.0/8', 'ten');
    expect(withDefault.lookupText('8.8.8.8')).toBe('default');
    expect(withDefault.lookupText('10.9.9.9')).toBe('ten');
  });

  it('finds a shorter prefix when the path diverges inside a compressed edge', () => {
    const t = new PrefixTrie<string>().insert('10.0.0.0/8', 'ten').insert('10.128.0.0/24', 'deep');
    expect(t.lookupText('10.128.0.9')).toBe('deep');
    expect(t.lookupText('10.128.1.0')).toBe('ten');
    expect(t.lookupText('10.0.0.1')).toBe('ten');
  });

  it('replaces the value when the same prefix is inserted again', () => {
    const t = new PrefixTrie<number>().insert('10.0.0.0/8', 1).insert('10.0.0.0/8', 2);
    expect(t.size).toBe(1);
    expect(t.lookupText('10.0.0.1')).toBe(2);
  });

  it('gets exact prefixes without longest-prefix matching', () => {
    expect(trie.get('10.1.0.0/16')).toBe('ten-one');
    expect(trie.get('10.1.0.0/17')).toBeUndefined();
    expect(trie.get('10.0.0.0/7')).toBeUndefined();
  });

  it('rejects prefixes with host bits set', () => {
    expect(() => new PrefixTrie<number>().insert('10.0.0.1/24', 1)).toThrow('host bits are set');
  });
});

describe('PrefixTrie with IPv6', () => {
  const trie = new PrefixTrie<string>()
    .insert('2001:db8::/32', 'pool')
    .insert('2001:db8:1::/48', 'site')
    .insert('2001:db8:1:100::/56', 'customer-56')
    .insert('2001:db8:1:101::/64', 'customer-64')
    .insert('2001:db8:1:101::1/128', 'host');

  it.each([
    ['2001:db8:1:101::1', 'host'],
    ['2001:db8:1:101::2', 'customer-64'],
    ['2001:db8:1:1ff::1', 'customer-56'],
    ['2001:db8:1:200::1', 'site'],
    ['2001:db8:2::1', 'pool'],
    ['2001:db9::', undefined],
    ['::', undefined],
  ])('%s -> %s', (address, expected) => {
    expect(trie.lookupText(address)).toBe(expected);
  });

  it('reads addresses in place from a column of 16-byte records', () => {
    const column = new Uint8Array(16 * 3);
    column.set(parseIpv6('2001:db8:1:101::1'), 0);
    column.set(parseIpv6('2001:db8:1:1ff::'), 16);
    column.set(parseIpv6('2002::'), 32);
    expect(trie.lookup6(column, 0)).toBe('host');
    expect(trie.lookup6(column, 16)).toBe('customer-56');
    expect(trie.lookup6(column, 32)).toBeUndefined();
  });

  it('keeps IPv4 and IPv6 apart', () => {
    const t = new PrefixTrie<string>().insert('::/0', 'v6').insert('10.0.0.0/8', 'v4');
    expect(t.lookupText('10.0.0.1')).toBe('v4');
    expect(t.lookupText('11.0.0.1')).toBeUndefined();
    expect(t.lookupText('::a00:1')).toBe('v6');
  });

  it('lists entries in insertion order', () => {
    expect(Array.from(trie.entries(), ([, value]) => value)).toEqual(['pool', 'site', 'customer-56', 'customer-64', 'host']);
  });
});

/** Reference answer: scan every prefix, keep the longest match (last insert wins on equal prefixes). */
function naiveLookup(entries: Array<[IpPrefix, number]>, matches: (prefix: IpPrefix) => boolean): number | undefined {
  let best: [IpPrefix, number] | undefined;
  for (const entry of entries) {
    if (matches(entry[0]) && (best === undefined || entry[0].length >= best[0].length)) best = entry;
  }
  return best?.[1];
}

describe('PrefixTrie agrees with a linear scan', () => {
  // Prefixes and addresses derived from a few base addresses, so nesting and shared
  // compressed edges are common rather than astronomically unlikely.
  const bases4 = [0x0a000000, 0x0a0a0a0a, 0x0a0a0b00, 0xc0000200, 0xffffffff, 0];
  const address4 = fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.tuple(fc.constantFrom(...bases4), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 0xffffffff })).map(
      ([base, keep, noise]) => ((base & ipv4Mask(keep)) | (noise & ~ipv4Mask(keep))) >>> 0,
    ),
  );
  const prefix4 = fc
    .tuple(address4, fc.integer({ min: 0, max: 32 }))
    .map(([address, length]): IpPrefix => ({ version: 4, network: (address & ipv4Mask(length)) >>> 0, length }));

  it('for IPv4', () => {
    fc.assert(
      fc.property(fc.array(prefix4, { maxLength: 60 }), fc.array(address4, { minLength: 1, maxLength: 40 }), (prefixes, addresses) => {
        const trie = new PrefixTrie<number>();
        const entries: Array<[IpPrefix, number]> = prefixes.map((prefix, value) => [prefix, value]);
        for (const [prefix, value] of entries) trie.insert(prefix, value);
        for (const address of addresses) {
          expect(trie.lookup4(address)).toBe(naiveLookup(entries, (p) => prefixContainsIpv4(p, address)));
        }
        for (const [prefix] of entries) {
          expect(trie.get(prefix)).toBe(naiveLookup(entries, (p) => samePrefix(p, prefix)));
        }
      }),
      { numRuns: 300 },
    );
  });

  const bases6 = ['2001:db8::', '2001:db8:1:100::', '2001:db8:1:1ff::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::'].map((t) =>
    parseIpv6(t),
  );
  const address6 = fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.tuple(fc.constantFrom(...bases6), fc.integer({ min: 0, max: 128 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(
      ([base, keep, noise]) => {
        const mixed = ipv6NetworkOf(base, 0, keep);
        for (let bit = keep; bit < 128; bit++) mixed[bit >>> 3] |= noise[bit >>> 3] & (0x80 >>> (bit & 7));
        return mixed;
      },
    ),
  );
  const prefix6 = fc
    .tuple(address6, fc.integer({ min: 0, max: 128 }))
    .map(([address, length]): IpPrefix => ({ version: 6, network: ipv6NetworkOf(address, 0, length), length }));

  it('for IPv6, reading at an offset', () => {
    fc.assert(
      fc.property(fc.array(prefix6, { maxLength: 60 }), fc.array(address6, { minLength: 1, maxLength: 40 }), (prefixes, addresses) => {
        const trie = new PrefixTrie<number>();
        const entries: Array<[IpPrefix, number]> = prefixes.map((prefix, value) => [prefix, value]);
        for (const [prefix, value] of entries) trie.insert(prefix, value);
        const column = new Uint8Array(16 * addresses.length);
        addresses.forEach((address, row) => column.set(address, row * 16));
        addresses.forEach((address, row) => {
          expect(trie.lookup6(column, row * 16)).toBe(naiveLookup(entries, (p) => prefixContainsIpv6(p, address)));
        });
        for (const [prefix] of entries) {
          expect(trie.get(prefix)).toBe(naiveLookup(entries, (p) => samePrefix(p, prefix)));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('PrefixTrie.slotTables', () => {
  const build = () =>
    new PrefixTrie<string>()
      .insert('10.0.0.0/8', 'ten')
      .insert('2001:db8::/32', 'pool')
      .insert('10.1.2.0/24', 'ten-one-two')
      .insert('2001:db8:1:100::/56', 'customer-56')
      .insert('10.1.2.3/32', 'host')
      .insert('2001:db8:1:101::1/128', 'host6')
      .insert('10.0.0.0/8', 'ten-again');
  const v4 = ['10.1.2.3', '10.1.2.4', '10.9.9.9', '11.0.0.0', '0.0.0.0', '255.255.255.255'];
  const v6 = ['2001:db8:1:101::1', '2001:db8:1:1ff::', '2001:db8:ffff::', '2001:db9::', '::', '::ffff:10.1.2.3'];

  /** What the tables answer, through RadixTrieCore.fromTables and the slot values, per address text. */
  function answers(tables: ReturnType<PrefixTrie<string>['slotTables']>): Array<string | undefined> {
    const ipv4 = RadixTrieCore.fromTables(tables.ipv4);
    const ipv6 = RadixTrieCore.fromTables(tables.ipv6);
    const value = (slot: number) => (slot === NO_SLOT ? undefined : tables.values[slot]);
    return [...v4.map((a) => value(ipv4.longestMatch32(parseIpv4(a)))), ...v6.map((a) => value(ipv6.longestMatch128(parseIpv6(a), 0)))];
  }

  it('answers every lookup as the trie does, also after structuredClone', () => {
    const trie = build();
    const expected = [...v4, ...v6].map((a) => trie.lookupText(a));
    expect(expected).toEqual(['host', 'ten-one-two', 'ten-again', undefined, undefined, undefined, 'host6', 'customer-56', 'pool', undefined, undefined, undefined]);
    const tables = trie.slotTables();
    expect(tables.values).toEqual(['ten-again', 'pool', 'ten-one-two', 'customer-56', 'host', 'host6']);
    expect(tables.ipv4.wordCount).toBe(1);
    expect(tables.ipv6.wordCount).toBe(4);
    expect(answers(tables)).toEqual(expected);
    expect(answers(structuredClone(tables))).toEqual(expected);
  });

  it('gives copies: later inserts into the trie leave them as they were', () => {
    const trie = build();
    const tables = trie.slotTables();
    const before = answers(tables);
    trie.insert('10.1.0.0/16', 'ten-one').insert('2001:db8:1::/48', 'site').insert('10.1.2.0/24', 'replaced').insert('0.0.0.0/0', 'default');
    expect(trie.lookupText('10.1.2.4')).toBe('replaced');
    expect(trie.lookupText('11.0.0.0')).toBe('default');
    expect(tables.values).toHaveLength(6);
    expect(answers(tables)).toEqual(before);
  });
});
