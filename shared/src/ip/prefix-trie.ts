/**
 * Longest-prefix-match table for IPv4 and IPv6 prefixes with arbitrary values.
 *
 * Build once (insert), then look up numeric addresses on the hot path:
 *   trie.lookup4(batch.srcAddr4[i])
 *   trie.lookup6(batch.srcAddr6, i * 16)
 * Both lookups allocate nothing. The structure is described in radix-trie-core.ts.
 */
import { parseIpAddress } from './address.js';
import { readIpv6Words } from './ipv6.js';
import { type IpPrefix, parsePrefix } from './prefix.js';
import { NO_SLOT, RadixTrieCore, type RadixTrieTables } from './radix-trie-core.js';

export class PrefixTrie<V> {
  private readonly ipv4 = new RadixTrieCore(1);
  private readonly ipv6 = new RadixTrieCore(4);
  private readonly values: V[] = [];
  private readonly prefixes: IpPrefix[] = [];
  /** Reused buffer for turning an IPv6 network into four words on insert. */
  private readonly words = new Uint32Array(4);

  /** Number of distinct prefixes stored. */
  get size(): number {
    return this.values.length;
  }

  /**
   * Store `value` for `prefix` (text is parsed with parsePrefix, so host bits
   * must be clear). Inserting the same prefix again replaces its value.
   */
  insert(prefix: IpPrefix | string, value: V): this {
    const parsed = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    const existing = this.slotOf(parsed);
    if (existing !== NO_SLOT) {
      this.values[existing] = value;
      return this;
    }
    const slot = this.values.length;
    this.values.push(value);
    this.prefixes.push(parsed);
    if (parsed.version === 4) this.ipv4.insert([parsed.network], parsed.length, slot);
    else this.ipv6.insert(this.wordsOf(parsed.network), parsed.length, slot);
    return this;
  }

  /** Value stored for exactly this prefix (no longest-prefix matching). */
  get(prefix: IpPrefix | string): V | undefined {
    const slot = this.slotOf(typeof prefix === 'string' ? parsePrefix(prefix) : prefix);
    return slot === NO_SLOT ? undefined : this.values[slot];
  }

  /** Value of the longest stored IPv4 prefix containing the uint32 `address`. */
  lookup4(address: number): V | undefined {
    const slot = this.ipv4.longestMatch32(address >>> 0);
    return slot === NO_SLOT ? undefined : this.values[slot];
  }

  /** Value of the longest stored IPv6 prefix containing the 16 bytes at `offset`. */
  lookup6(bytes: Uint8Array, offset = 0): V | undefined {
    const slot = this.ipv6.longestMatch128(bytes, offset);
    return slot === NO_SLOT ? undefined : this.values[slot];
  }

  /** Convenience for configuration and tests: look up address text. Allocates. */
  lookupText(address: string): V | undefined {
    const parsed = parseIpAddress(address);
    return parsed.version === 4 ? this.lookup4(parsed.value) : this.lookup6(parsed.bytes, 0);
  }

  /**
   * The two tries' tables (copies) and the value of each slot they point at: for turning
   * a built table into typed arrays another thread can use (RadixTrieCore.fromTables).
   */
  slotTables(): { ipv4: RadixTrieTables; ipv6: RadixTrieTables; values: readonly V[] } {
    return { ipv4: this.ipv4.tables(), ipv6: this.ipv6.tables(), values: this.values.slice() };
  }

  /** Every stored prefix with its value, in insertion order. */
  *entries(): IterableIterator<[IpPrefix, V]> {
    for (let slot = 0; slot < this.values.length; slot++) yield [this.prefixes[slot], this.values[slot]];
  }

  private slotOf(prefix: IpPrefix): number {
    return prefix.version === 4
      ? this.ipv4.exact([prefix.network], prefix.length)
      : this.ipv6.exact(this.wordsOf(prefix.network), prefix.length);
  }

  private wordsOf(bytes: Uint8Array): Uint32Array {
    readIpv6Words(bytes, 0, this.words);
    return this.words;
  }
}
