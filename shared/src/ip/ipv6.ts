/**
 * IPv6 addresses as 16 bytes in network order (the representation FlowBatch uses),
 * and as four uint32 words for bit arithmetic.
 *
 * Parsing is delegated to ipaddr.js with three restrictions and one correction:
 * - zone ids ("fe80::1%eth0") are rejected: they name a local interface, not an
 *   address a subscriber can hold;
 * - an embedded IPv4 tail must be a strict dotted quad (ipaddr.js also takes octal
 *   and hex octets there);
 * - only plain text is accepted (no surrounding whitespace, no brackets);
 * - "::a.b.c.d" (the deprecated IPv4-compatible form) is parsed as RFC 4291 defines
 *   it, ::0a0b:0c0d; ipaddr.js turns it into the IPv4-mapped ::ffff:a.b.c.d instead.
 */
import ipaddr from 'ipaddr.js';
import { InvalidIpError } from './invalid-ip-error.js';
import { isIpv4Text } from './ipv4.js';

/** Parse IPv6 text into 16 bytes. Throws InvalidIpError when not strictly valid. */
export function parseIpv6(text: string): Uint8Array {
  const bytes = new Uint8Array(16);
  const parts = ipaddr.IPv6.parse(toPlainHexForm(text)).parts;
  for (let k = 0; k < 8; k++) {
    bytes[2 * k] = parts[k] >>> 8;
    bytes[2 * k + 1] = parts[k] & 255;
  }
  return bytes;
}

/** True when `text` is IPv6 that parseIpv6 accepts. */
export function isIpv6Text(text: string): boolean {
  try {
    toPlainHexForm(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Validate `text` and return it with any dotted IPv4 tail rewritten as two hex
 * groups, so that ipaddr.js only ever sees the unambiguous all-hex form.
 */
function toPlainHexForm(text: string): string {
  const invalid = (reason: string) => new InvalidIpError(text, `invalid IPv6 address "${text}": ${reason}`);
  if (text.includes('%')) throw invalid('zone ids (%...) are not allowed');
  if (!text.includes(':')) throw invalid('expected colon-separated hexadecimal groups');
  let hexForm = text;
  if (text.includes('.')) {
    const tailStart = text.lastIndexOf(':') + 1;
    const tail = text.slice(tailStart);
    if (!isIpv4Text(tail)) throw invalid(`an embedded IPv4 part must be the last 32 bits and a strict dotted quad, got "${tail}"`);
    const [a, b, c, d] = tail.split('.').map(Number);
    hexForm = `${text.slice(0, tailStart)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  if (!ipaddr.IPv6.isValid(hexForm)) {
    throw invalid('expected at most eight groups of 1-4 hex digits, with at most one "::"');
  }
  return hexForm;
}

/**
 * RFC 5952 text of the 16 bytes at `offset`: lower-case hex, no leading zeros,
 * the longest run (two or more) of zero groups as "::" (the first on ties), and
 * IPv4-mapped addresses as ::ffff:a.b.c.d. Matches the decoder's ipv6ToString so
 * text keys agree across the pipeline.
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push((bytes[offset + 2 * k] << 8) | bytes[offset + 2 * k + 1]);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed (RFC 5952 4.2.2)
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let runEnd = k;
    while (runEnd < 8 && groups[runEnd] === 0) runEnd++;
    if (runEnd - k > bestLength) {
      bestStart = k;
      bestLength = runEnd - k;
    }
    k = runEnd;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** Read the 16 bytes at `offset` as four big-endian uint32 words into `out[0..3]`. */
export function readIpv6Words(bytes: Uint8Array, offset: number, out: Uint32Array): void {
  for (let k = 0; k < 4; k++) {
    const o = offset + 4 * k;
    out[k] = (bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3];
  }
}

/** The 16 bytes of four big-endian uint32 words. */
export function ipv6BytesFromWords(words: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let k = 0; k < 4; k++) {
    const w = words[k];
    bytes[4 * k] = w >>> 24;
    bytes[4 * k + 1] = (w >>> 16) & 255;
    bytes[4 * k + 2] = (w >>> 8) & 255;
    bytes[4 * k + 3] = w & 255;
  }
  return bytes;
}

/** True when the first `length` bits (0..128) of the two 16-byte addresses are equal. */
export function ipv6SharePrefix(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): boolean {
  if (!Number.isInteger(length) || length < 0 || length > 128) {
    throw new RangeError(`IPv6 prefix length must be an integer 0..128, got ${length}`);
  }
  const wholeBytes = length >>> 3;
  for (let k = 0; k < wholeBytes; k++) if (a[aOffset + k] !== b[bOffset + k]) return false;
  const restBits = length & 7;
  if (restBits === 0) return true;
  const mask = (0xff << (8 - restBits)) & 0xff;
  return ((a[aOffset + wholeBytes] ^ b[bOffset + wholeBytes]) & mask) === 0;
}

/** Copy of the 16 bytes at `offset` with every bit after the first `length` cleared. */
export function ipv6NetworkOf(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  const network = bytes.slice(offset, offset + 16);
  for (let bit = length; bit < 128; bit++) network[bit >>> 3] &= ~(0x80 >>> (bit & 7));
  return network;
}
