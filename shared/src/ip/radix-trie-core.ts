/**
 * Path-compressed binary trie (a radix / PATRICIA-style tree) over fixed-width
 * keys of one uint32 word (IPv4) or four (IPv6), mapping prefixes to integer
 * value slots. PrefixTrie wraps it with parsing and typed values.
 *
 * Why this structure:
 * - Memory is O(number of prefixes) whatever their spread: a node exists only
 *   for a stored prefix or where two stored prefixes diverge. A multibit trie
 *   with controlled prefix expansion (e.g. 8-bit strides, 1-2 KiB per node) is
 *   faster on dense IPv4 pools but costs up to 16 nodes per scattered IPv6 /128
 *   and per peering /48; subscriber /128s and imported IX route lists make that
 *   worst case real.
 * - Lookup depth is the number of branch points on the address's path
 *   (about log2(n) for realistic tables, at most 33 / 129), each a few typed-array
 *   reads. That is several million lookups per second per core in V8, which
 *   is what the collector needs.
 * - All state lives in typed arrays (struct of arrays), so lookups allocate
 *   nothing and the garbage collector never walks the tree.
 *
 * Invariants: node 0 is the root (length 0). Every node's key is masked to its
 * length. A child's length is greater than its parent's, and the child sits
 * under the parent's bit at position parent.length.
 *
 * There is no delete: attribution rebuilds a whole table and swaps it in.
 */

/** Mask of the first `n` bits of a 32-bit word, n = 0..32, as uint32. */
const LEADING_BITS_MASK = new Uint32Array(33);
for (let n = 1; n <= 32; n++) LEADING_BITS_MASK[n] = (0xffffffff << (32 - n)) >>> 0;

const NO_NODE = -1;
export const NO_SLOT = -1;

/**
 * A trie's whole state as typed arrays (trimmed to its nodes): what `tables()` gives and
 * `fromTables()` takes, so a built trie can be copied to another thread (postMessage
 * copies typed arrays as memory) and used there without inserting anything again.
 */
export interface RadixTrieTables {
  readonly wordCount: 1 | 4;
  readonly nodeCount: number;
  readonly lengths: Uint8Array;
  readonly keys: Uint32Array;
  readonly children: Int32Array;
  readonly slots: Int32Array;
}

export class RadixTrieCore {
  /** Words per key: 1 for IPv4, 4 for IPv6. */
  readonly wordCount: 1 | 4;
  /** Key width in bits: 32 or 128. */
  readonly maxLength: number;

  private nodeCount = 1;
  private lengths: Uint8Array;
  private keys: Uint32Array;
  /** children[2 * node + bit]: node index or NO_NODE. */
  private children: Int32Array;
  /** slots[node]: value slot or NO_SLOT when the node is only a branch point. */
  private slots: Int32Array;
  /** Reused key of the lookup or insert in progress (never escapes a call). */
  private readonly query: Uint32Array;

  constructor(wordCount: 1 | 4, initialCapacity = 64) {
    this.wordCount = wordCount;
    this.maxLength = wordCount * 32;
    const capacity = Math.max(2, initialCapacity);
    this.lengths = new Uint8Array(capacity);
    this.keys = new Uint32Array(capacity * wordCount);
    this.children = new Int32Array(capacity * 2).fill(NO_NODE);
    this.slots = new Int32Array(capacity).fill(NO_SLOT);
    this.query = new Uint32Array(wordCount);
  }

  /** This trie's state, copied (see RadixTrieTables). */
  tables(): RadixTrieTables {
    const n = this.nodeCount;
    return {
      wordCount: this.wordCount,
      nodeCount: n,
      lengths: this.lengths.slice(0, n),
      keys: this.keys.slice(0, n * this.wordCount),
      children: this.children.slice(0, n * 2),
      slots: this.slots.slice(0, n),
    };
  }

  /**
   * A trie over `tables` (used as they are, not copied), after checking that they are
   * consistent: sizes, and every child index inside the node range.
   */
  static fromTables(tables: RadixTrieTables): RadixTrieCore {
    const { wordCount, nodeCount: n } = tables;
    if ((wordCount !== 1 && wordCount !== 4) || !Number.isInteger(n) || n < 1) throw new RangeError(`not a trie: wordCount ${wordCount}, nodeCount ${n}`);
    if (tables.lengths.length !== n || tables.keys.length !== n * wordCount || tables.children.length !== n * 2 || tables.slots.length !== n) {
      throw new RangeError('not a trie: table sizes do not match its node count');
    }
    for (const child of tables.children) if (child !== NO_NODE && (child <= 0 || child >= n)) throw new RangeError(`not a trie: child ${child} outside 1..${n - 1}`);
    // Every child is longer than its parent (so a lookup always ends) and no key is wider than the keys.
    const maxLength = wordCount * 32;
    if (tables.lengths[0] !== 0) throw new RangeError(`not a trie: the root has length ${tables.lengths[0]}, not 0`);
    for (let node = 0; node < n; node++) {
      if (tables.lengths[node] > maxLength) throw new RangeError(`not a trie: node ${node} has length ${tables.lengths[node]} > ${maxLength}`);
      for (const child of [tables.children[2 * node], tables.children[2 * node + 1]]) {
        if (child !== NO_NODE && tables.lengths[child] <= tables.lengths[node]) throw new RangeError(`not a trie: node ${child} is not longer than its parent ${node}`);
      }
    }
    const trie = new RadixTrieCore(wordCount, 2);
    trie.nodeCount = n;
    trie.lengths = tables.lengths;
    trie.keys = tables.keys;
    trie.children = tables.children;
    trie.slots = tables.slots;
    return trie;
  }

  /**
   * Store `slot` for the prefix whose first `length` bits are in `key`
   * (`wordCount` words, bits after `length` ignored). Returns the slot that was
   * there before, or NO_SLOT.
   */
  insert(key: ArrayLike<number>, length: number, slot: number): number {
    if (!Number.isInteger(length) || length < 0 || length > this.maxLength) {
      throw new RangeError(`prefix length must be an integer 0..${this.maxLength}, got ${length}`);
    }
    if (!Number.isInteger(slot) || slot < 0) throw new RangeError(`value slot must be a non-negative integer, got ${slot}`);
    const q = this.query;
    for (let k = 0; k < this.wordCount; k++) q[k] = key[k];
    this.maskInPlace(q, 0, length);

    let node = 0;
    for (;;) {
      const nodeLength = this.lengths[node];
      if (nodeLength === length) {
        // Walking only descends into nodes whose key is a prefix of q, so this is q's node.
        const previous = this.slots[node];
        this.slots[node] = slot;
        return previous;
      }
      const bit = this.bitOf(q, 0, nodeLength);
      const child = this.children[2 * node + bit];
      if (child === NO_NODE) {
        // newNode may grow (replace) the arrays: read `this.children` after it, not before.
        const leaf = this.newNode(q, length, slot);
        this.children[2 * node + bit] = leaf;
        return NO_SLOT;
      }
      const childLength = this.lengths[child];
      const common = Math.min(this.commonLength(q, child), length, childLength);
      if (common === childLength) {
        node = child;
        continue;
      }
      // q and the child diverge (or q ends) inside the child's compressed edge: split it.
      if (common === length) {
        const inserted = this.newNode(q, length, slot);
        this.children[2 * inserted + this.bitOf(this.keys, child * this.wordCount, length)] = child;
        this.children[2 * node + bit] = inserted;
      } else {
        const branch = this.newNode(q, common, NO_SLOT);
        const leaf = this.newNode(q, length, slot);
        this.children[2 * branch + this.bitOf(q, 0, common)] = leaf;
        this.children[2 * branch + this.bitOf(this.keys, child * this.wordCount, common)] = child;
        this.children[2 * node + bit] = branch;
      }
      return NO_SLOT;
    }
  }

  /** Slot stored for exactly this prefix, or NO_SLOT. */
  exact(key: ArrayLike<number>, length: number): number {
    const q = this.query;
    for (let k = 0; k < this.wordCount; k++) q[k] = key[k];
    this.maskInPlace(q, 0, length);
    let node = 0;
    while (this.lengths[node] < length) {
      const child = this.children[2 * node + this.bitOf(q, 0, this.lengths[node])];
      if (child === NO_NODE || this.lengths[child] > length || this.commonLength(q, child) < this.lengths[child]) return NO_SLOT;
      node = child;
    }
    return this.lengths[node] === length ? this.slots[node] : NO_SLOT;
  }

  /** Longest-prefix match of a uint32 address (1-word tries only). Allocation-free. */
  longestMatch32(address: number): number {
    const lengths = this.lengths;
    const keys = this.keys;
    const children = this.children;
    const slots = this.slots;
    let best = slots[0];
    let node = 0;
    let length = 0;
    while (length < 32) {
      const next = children[(node << 1) | ((address >>> (31 - length)) & 1)];
      if (next === NO_NODE) break;
      const nextLength = lengths[next];
      // Bits before `length` matched on the way down; compare the compressed edge.
      if (((address & LEADING_BITS_MASK[nextLength]) >>> 0) !== keys[next]) break;
      if (slots[next] !== NO_SLOT) best = slots[next];
      node = next;
      length = nextLength;
    }
    return best;
  }

  /**
   * Longest-prefix match of the 16-byte address at `bytes[offset..offset+16)`
   * (4-word tries only). Reads the bytes in place, so a FlowBatch column can be
   * passed with `row * 16`. Allocation-free.
   */
  longestMatch128(bytes: Uint8Array, offset: number): number {
    const q = this.query;
    q[0] = (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
    q[1] = (bytes[offset + 4] << 24) | (bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7];
    q[2] = (bytes[offset + 8] << 24) | (bytes[offset + 9] << 16) | (bytes[offset + 10] << 8) | bytes[offset + 11];
    q[3] = (bytes[offset + 12] << 24) | (bytes[offset + 13] << 16) | (bytes[offset + 14] << 8) | bytes[offset + 15];
    const lengths = this.lengths;
    const keys = this.keys;
    const children = this.children;
    const slots = this.slots;
    let best = slots[0];
    let node = 0;
    let length = 0;
    while (length < 128) {
      const next = children[(node << 1) | ((q[length >>> 5] >>> (31 - (length & 31))) & 1)];
      if (next === NO_NODE) break;
      const nextLength = lengths[next];
      // Compare only the words the compressed edge [length, nextLength) touches.
      const base = next << 2;
      const lastWord = (nextLength - 1) >>> 5;
      let matches = true;
      for (let k = length >>> 5; k < lastWord; k++) {
        if (q[k] !== keys[base + k]) {
          matches = false;
          break;
        }
      }
      if (!matches || ((q[lastWord] & LEADING_BITS_MASK[nextLength - 32 * lastWord]) >>> 0) !== keys[base + lastWord]) break;
      if (slots[next] !== NO_SLOT) best = slots[next];
      node = next;
      length = nextLength;
    }
    return best;
  }

  private newNode(key: ArrayLike<number>, length: number, slot: number): number {
    if (this.nodeCount === this.lengths.length) this.grow();
    const node = this.nodeCount++;
    this.lengths[node] = length;
    const base = node * this.wordCount;
    for (let k = 0; k < this.wordCount; k++) this.keys[base + k] = key[k];
    this.maskInPlace(this.keys, base, length);
    this.slots[node] = slot;
    return node;
  }

  private grow(): void {
    const capacity = this.lengths.length * 2;
    const lengths = new Uint8Array(capacity);
    lengths.set(this.lengths);
    const keys = new Uint32Array(capacity * this.wordCount);
    keys.set(this.keys);
    const children = new Int32Array(capacity * 2).fill(NO_NODE);
    children.set(this.children);
    const slots = new Int32Array(capacity).fill(NO_SLOT);
    slots.set(this.slots);
    this.lengths = lengths;
    this.keys = keys;
    this.children = children;
    this.slots = slots;
  }

  /** Bit `index` (0 = most significant) of the key starting at words[base]. */
  private bitOf(words: ArrayLike<number>, base: number, index: number): number {
    return (words[base + (index >>> 5)] >>> (31 - (index & 31))) & 1;
  }

  /** Leading bits the query has in common with `node`'s key (0..maxLength). */
  private commonLength(q: Uint32Array, node: number): number {
    const base = node * this.wordCount;
    for (let k = 0; k < this.wordCount; k++) {
      const difference = (q[k] ^ this.keys[base + k]) >>> 0;
      if (difference !== 0) return 32 * k + Math.clz32(difference);
    }
    return this.maxLength;
  }

  /** Clear every bit after the first `length` of the key at words[base]. */
  private maskInPlace(words: Uint32Array, base: number, length: number): void {
    for (let k = 0; k < this.wordCount; k++) {
      const bitsInWord = Math.min(32, Math.max(0, length - 32 * k));
      words[base + k] = (words[base + k] & LEADING_BITS_MASK[bitsInWord]) >>> 0;
    }
  }
}
