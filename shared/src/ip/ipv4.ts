/**
 * IPv4 addresses as unsigned 32-bit numbers (the representation FlowBatch uses).
 *
 * Parsing is delegated to ipaddr.js but restricted to the plain dotted-quad form:
 * ipaddr.js (like inet_aton) also accepts "10.1", "0x0a.0.0.1" and octal "010.0.0.1",
 * which in a billing configuration are far more likely typos than intent.
 */
import ipaddr from 'ipaddr.js';
import { InvalidIpError } from './invalid-ip-error.js';

/** Network masks by prefix length, as uint32; index 0..32. */
const IPV4_MASKS: readonly number[] = Array.from({ length: 33 }, (_, length) =>
  length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0,
);

/** True when `text` is a strict dotted quad (four decimal octets 0-255, no leading zeros). */
export function isIpv4Text(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

/** Parse a strict dotted quad into a uint32. Throws InvalidIpError otherwise. */
export function parseIpv4(text: string): number {
  if (!isIpv4Text(text)) {
    throw new InvalidIpError(
      text,
      `invalid IPv4 address "${text}": expected four dot-separated decimal octets 0-255 without leading zeros`,
    );
  }
  const [a, b, c, d] = ipaddr.IPv4.parse(text).octets;
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Dotted-quad text of a uint32 address. */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** The uint32 network mask of a prefix length 0..32. */
export function ipv4Mask(length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > 32) {
    throw new RangeError(`IPv4 prefix length must be an integer 0..32, got ${length}`);
  }
  return IPV4_MASKS[length];
}
