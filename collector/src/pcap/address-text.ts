/**
 * IP addresses between their wire bytes and their text forms.
 *
 * ipaddr.js does the IPv6 work (parsing every legal text form, RFC 5952 output) because
 * hand-written IPv6 parsers are a classic source of bugs. IPv4 is formatted by hand: it
 * is one template string and runs once per frame.
 */
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface ParsedAddress {
  readonly family: IpFamily;
  /** 4 bytes for IPv4, 16 for IPv6, network order. */
  readonly bytes: Uint8Array;
}

/** Dotted-quad text of the 4 bytes at `offset`. */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * RFC 5952 text of the 16 bytes at `offset`: lowercase, longest zero run compressed, and
 * IPv4-mapped addresses in the recommended mixed form (::ffff:192.0.2.1), which ipaddr.js
 * would otherwise print as hex groups.
 */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  const address = ipaddr.fromByteArray(Array.from(bytes.subarray(offset, offset + 16)));
  if (address.kind() !== 'ipv6') {
    throw new Error('unreachable: 16 bytes always make an IPv6 address');
  }
  const ipv6 = address as ipaddr.IPv6;
  if (ipv6.isIPv4MappedAddress()) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  return ipv6.toRFC5952String();
}

/**
 * Parse an IPv4 dotted quad or any IPv6 text form. Rejects the legacy short IPv4 forms
 * ("10.1") that ipaddr.js would otherwise accept, since in a test fixture they are typos.
 */
export function parseAddress(text: string): ParsedAddress {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, bytes: Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (ipaddr.IPv6.isValid(text)) {
    return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
}

/** The canonical text form of an address given as text, so differently written inputs compare equal. */
export function canonicalAddress(text: string): string {
  const { family, bytes } = parseAddress(text);
  return family === 4 ? formatIpv4(bytes, 0) : formatIpv6(bytes, 0);
}
