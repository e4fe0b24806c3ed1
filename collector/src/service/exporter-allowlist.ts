/**
 * Which routers may send us flows. A message from any other source is dropped and counted:
 * NetFlow has no authentication, so without this anyone who can reach the UDP port could
 * bill traffic to any subscriber.
 */
import { parseAddressOrPrefix, PrefixTrie } from '@flowbill/shared/ip/index';

/** Decisions cached per source address; capped so spoofed floods cannot grow it unbounded. */
const CACHE_LIMIT = 4096;

export class ExporterAllowlist {
  private readonly trie = new PrefixTrie<true>();
  private readonly cache = new Map<string, boolean>();
  readonly prefixes: readonly string[];

  /** `prefixes`: addresses or CIDR prefixes, IPv4 or IPv6. Throws on an invalid one. */
  constructor(prefixes: readonly string[]) {
    for (const p of prefixes) this.trie.insert(parseAddressOrPrefix(p), true);
    this.prefixes = [...prefixes];
  }

  allows(address: string): boolean {
    let ok = this.cache.get(address);
    if (ok !== undefined) return ok;
    // Node reports IPv4 senders on a dual-stack socket as ::ffff:a.b.c.d.
    const text = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    try {
      ok = this.trie.lookupText(text) === true;
    } catch {
      ok = false;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(address, ok);
    return ok;
  }
}
