/**
 * The Internet checksum (RFC 1071) and the pseudo-headers TCP, UDP and ICMPv6 include.
 *
 * Sums are carried as plain numbers and folded at the end: a 32-bit accumulator of 16-bit
 * words cannot overflow a double for any packet IP can carry.
 */
import type { ParsedAddress } from './address-text.js';

/** Add the bytes to a running sum as big-endian 16-bit words (an odd last byte is padded with zero). */
export function addToChecksum(sum: number, bytes: Uint8Array): number {
  let total = sum;
  const evenLength = bytes.length & ~1;
  for (let i = 0; i < evenLength; i += 2) total += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length !== evenLength) total += bytes[evenLength] << 8;
  return total;
}

/** Fold the carries back in and take the one's complement: the value to put in the header. */
export function finishChecksum(sum: number): number {
  let folded = sum;
  while (folded > 0xffff) folded = (folded & 0xffff) + Math.floor(folded / 0x10000);
  return ~folded & 0xffff;
}

export function internetChecksum(bytes: Uint8Array): number {
  return finishChecksum(addToChecksum(0, bytes));
}

/**
 * Checksum of a transport segment (header with a zero checksum field, plus payload) under the
 * IPv4 (RFC 793/768) or IPv6 (RFC 8200 §8.1) pseudo-header.
 */
export function transportChecksum(
  source: ParsedAddress,
  destination: ParsedAddress,
  protocol: number,
  segment: Uint8Array,
): number {
  let sum = addToChecksum(0, source.bytes);
  sum = addToChecksum(sum, destination.bytes);
  // IPv4: zero, protocol, 16-bit length. IPv6: 32-bit length, three zero bytes, next header.
  // Either way the words add up to protocol + length.
  sum += protocol + (segment.length & 0xffff) + Math.floor(segment.length / 0x10000);
  return finishChecksum(addToChecksum(sum, segment));
}
