/**
 * CIDR prefixes: strict parsing, canonical text, containment and overlap.
 *
 * "Strict" means a prefix must be written as its network address: "10.0.0.1/24"
 * is rejected rather than silently widened to 10.0.0.0/24, because in a billing
 * configuration it almost always means a mistyped length or address.
 */
import { InvalidIpError } from './invalid-ip-error.js';
import { formatIpv4, ipv4Mask, parseIpv4 } from './ipv4.js';
import { formatIpv6, ipv6NetworkOf, ipv6SharePrefix, parseIpv6 } from './ipv6.js';

export interface Ipv4Prefix {
  readonly version: 4;
  /** Network address as uint32; bits after `length` are zero. */
  readonly network: number;
  /** 0..32 */
  readonly length: number;
}

export interface Ipv6Prefix {
  readonly version: 6;
  /** 16 bytes in network order; bits after `length` are zero. */
  readonly network: Uint8Array;
  /** 0..128 */
  readonly length: number;
}

export type IpPrefix = Ipv4Prefix | Ipv6Prefix;

/** Decimal prefix length without sign or leading zeros ("/024" is rejected). */
const PREFIX_LENGTH_TEXT = /^(0|[1-9][0-9]{0,2})$/;

/** Parse "address/length" strictly. A bare address is rejected; see parseAddressOrPrefix. */
export function parsePrefix(text: string): IpPrefix {
  const slash = typeof text === 'string' ? text.indexOf('/') : -1;
  if (slash < 0) {
    throw new InvalidIpError(String(text), `invalid prefix "${String(text)}": expected address/length, e.g. 10.0.0.0/24 or 2001:db8::/32`);
  }
  return parseWithLength(text, text.slice(0, slash), text.slice(slash + 1));
}

/**
 * Parse either "address/length" or a bare address; a bare address is the host
 * prefix (/32 or /128). For subscriber assignments, which are single addresses
 * as often as delegated prefixes.
 */
export function parseAddressOrPrefix(text: string): IpPrefix {
  if (typeof text === 'string' && !text.includes('/')) {
    return text.includes(':')
      ? { version: 6, network: parseIpv6(text), length: 128 }
      : { version: 4, network: parseIpv4(text), length: 32 };
  }
  return parsePrefix(text);
}

function parseWithLength(text: string, addressText: string, lengthText: string): IpPrefix {
  const isV6 = addressText.includes(':');
  const maxLength = isV6 ? 128 : 32;
  if (!PREFIX_LENGTH_TEXT.test(lengthText) || Number(lengthText) > maxLength) {
    throw new InvalidIpError(text, `invalid prefix "${text}": length must be a decimal 0..${maxLength}, got "${lengthText}"`);
  }
  const length = Number(lengthText);
  let prefix: IpPrefix;
  let hostBitsSet: boolean;
  try {
    if (isV6) {
      const address = parseIpv6(addressText);
      prefix = { version: 6, network: ipv6NetworkOf(address, 0, length), length };
      hostBitsSet = !ipv6SharePrefix(address, 0, prefix.network, 0, 128);
    } else {
      const address = parseIpv4(addressText);
      prefix = { version: 4, network: (address & ipv4Mask(length)) >>> 0, length };
      hostBitsSet = address !== prefix.network;
    }
  } catch (error) {
    if (error instanceof InvalidIpError) throw new InvalidIpError(text, `invalid prefix "${text}": ${error.message}`);
    throw error;
  }
  if (hostBitsSet) {
    throw new InvalidIpError(
      text,
      `invalid prefix "${text}": host bits are set after the first ${length} bits (the network is ${formatPrefix(prefix)})`,
    );
  }
  return prefix;
}

/** Canonical text: "10.0.0.0/24", "2001:db8::/32" (RFC 5952 address). */
export function formatPrefix(prefix: IpPrefix): string {
  const address = prefix.version === 4 ? formatIpv4(prefix.network) : formatIpv6(prefix.network);
  return `${address}/${prefix.length}`;
}

/** Same version, length and network (for prefixes as parsePrefix returns them: host bits clear). */
export function samePrefix(a: IpPrefix, b: IpPrefix): boolean {
  return a.version === b.version && a.length === b.length && prefixContains(a, b);
}

/** True when every address of `inner` is inside `outer` (a prefix contains itself). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.length > inner.length) return false;
  if (outer.version === 4) return inner.version === 4 && prefixContainsIpv4(outer, inner.network);
  return inner.version === 6 && prefixContainsIpv6(outer, inner.network, 0);
}

/** True when the two prefixes share at least one address (for CIDR: one contains the other). */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  return prefixContains(a, b) || prefixContains(b, a);
}

/** True when the uint32 `address` is inside `prefix` (false for an IPv6 prefix). */
export function prefixContainsIpv4(prefix: IpPrefix, address: number): boolean {
  return prefix.version === 4 && ((prefix.network ^ address) & ipv4Mask(prefix.length)) === 0;
}

/** True when the 16 bytes at `offset` are inside `prefix` (false for an IPv4 prefix). */
export function prefixContainsIpv6(prefix: IpPrefix, bytes: Uint8Array, offset = 0): boolean {
  return prefix.version === 6 && ipv6SharePrefix(prefix.network, 0, bytes, offset, prefix.length);
}
