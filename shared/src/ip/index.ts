/** IP address and prefix utilities; see README.md in this folder. */
export { InvalidIpError } from './invalid-ip-error.js';
export { formatIpv4, ipv4Mask, isIpv4Text, parseIpv4 } from './ipv4.js';
export {
  formatIpv6,
  ipv6BytesFromWords,
  ipv6NetworkOf,
  ipv6SharePrefix,
  isIpv6Text,
  parseIpv6,
  readIpv6Words,
} from './ipv6.js';
export { type IpAddress, formatIpAddress, parseIpAddress } from './address.js';
export {
  type IpPrefix,
  type Ipv4Prefix,
  type Ipv6Prefix,
  formatPrefix,
  parseAddressOrPrefix,
  parsePrefix,
  prefixContains,
  prefixContainsIpv4,
  prefixContainsIpv6,
  prefixesOverlap,
  samePrefix,
} from './prefix.js';
export { PrefixTrie } from './prefix-trie.js';
export { NO_SLOT, RadixTrieCore, type RadixTrieTables } from './radix-trie-core.js';
