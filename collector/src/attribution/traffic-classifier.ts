/**
 * Traffic classes decided by the remote address: named prefix lists from
 * configuration (e.g. `local` = IX and peering networks), longest prefix wins
 * across all lists, and every address on no list is in the default class.
 *
 * Immutable once built; swap a new one in when the configuration changes.
 */
import { InvalidIpError, PrefixTrie, formatPrefix, parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import { AttributionTableError } from './attribution-table-error.js';

export const DEFAULT_TRAFFIC_CLASS = 'internet';

export interface TrafficClassConfig {
  /** Class name -> addresses or prefixes, e.g. { local: ['80.81.192.0/21', '2001:7f8::/32'] }. */
  readonly classes: Readonly<Record<string, readonly string[]>>;
  /** Class of every address on no list; "internet" when not given. */
  readonly defaultClass?: string;
}

export class TrafficClassifier {
  private constructor(
    private readonly classByPrefix: PrefixTrie<string>,
    /** Class of addresses on no list. */
    readonly defaultClass: string,
    /** Configured class names plus the default, in configuration order. */
    readonly classNames: readonly string[],
  ) {}

  /** A classifier with no lists: everything is in the default class. */
  static allDefault(defaultClass = DEFAULT_TRAFFIC_CLASS): TrafficClassifier {
    return TrafficClassifier.build({ classes: {}, defaultClass });
  }

  /**
   * Build from configuration. Throws AttributionTableError listing every invalid
   * prefix and every prefix put in two different classes.
   */
  static build(config: TrafficClassConfig): TrafficClassifier {
    const problems: string[] = [];
    const defaultClass = config.defaultClass ?? DEFAULT_TRAFFIC_CLASS;
    if (typeof defaultClass !== 'string' || defaultClass.length === 0) {
      problems.push(`the default class name must be a non-empty string, got ${JSON.stringify(defaultClass)}`);
    }
    const trie = new PrefixTrie<string>();
    for (const [className, prefixes] of Object.entries(config.classes ?? {})) {
      if (className.length === 0) problems.push('class names must be non-empty');
      if (!Array.isArray(prefixes)) {
        problems.push(`class "${className}": expected a list of prefixes, got ${JSON.stringify(prefixes)}`);
        continue;
      }
      for (const text of prefixes) {
        try {
          const prefix = parseAddressOrPrefix(text);
          const existing = trie.get(prefix);
          if (existing !== undefined && existing !== className) {
            problems.push(`${formatPrefix(prefix)} is listed in both class "${existing}" and class "${className}"`);
            continue;
          }
          trie.insert(prefix, className);
        } catch (error) {
          if (!(error instanceof InvalidIpError)) throw error;
          problems.push(`class "${className}": ${error.message}`);
        }
      }
    }
    if (problems.length > 0) throw new AttributionTableError('traffic classes', problems);
    const classNames = [...new Set([...Object.keys(config.classes ?? {}), defaultClass])];
    return new TrafficClassifier(trie, defaultClass, classNames);
  }

  /** Class of the uint32 IPv4 `address`. Allocation-free. */
  classOf4(address: number): string {
    return this.classByPrefix.lookup4(address) ?? this.defaultClass;
  }

  /** Class of the IPv6 address at `bytes[offset..offset+16)`. Allocation-free. */
  classOf6(bytes: Uint8Array, offset: number): string {
    return this.classByPrefix.lookup6(bytes, offset) ?? this.defaultClass;
  }
}
