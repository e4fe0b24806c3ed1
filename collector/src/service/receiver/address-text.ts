/**
 * Sender addresses between the receive thread and the main thread. The ring carries an
 * address as 16 bytes (datagram-ring.ts), so the receive thread turns node:dgram's text into
 * bytes once per sender, and the main thread turns the bytes back into the very text
 * node:dgram gives (libuv's inet_ntop: "::ffff:1.2.3.4", "::1.2.3.4", first longest zero run
 * compressed), once per sender too: the decoder keys exporters by that text, so it must not
 * depend on which listener received the datagram, and no string is built per datagram.
 */
import { parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';

/** Bounded like the allowlist's cache: a spoofed flood must not grow it without limit. */
const CACHE_LIMIT = 4096;

export interface SenderAddress {
  family: 4 | 6;
  /** 16 bytes, network order; IPv4 in the first 4. */
  bytes: Uint8Array;
}

/** Address text as node:dgram reports it (no zone id) -> family and bytes. Throws on bad text. */
export function senderAddressOf(text: string): SenderAddress {
  const bytes = new Uint8Array(16);
  if (!text.includes(':')) {
    const v4 = parseIpv4(text);
    bytes[0] = v4 >>> 24;
    bytes[1] = (v4 >>> 16) & 255;
    bytes[2] = (v4 >>> 8) & 255;
    bytes[3] = v4 & 255;
    return { family: 4, bytes };
  }
  bytes.set(parseIpv6(text));
  return { family: 6, bytes };
}

/** Text of an address as libuv (hence node:dgram's rinfo.address) writes it. */
export function formatSenderAddress(family: 4 | 6, bytes: Uint8Array, offset = 0): string {
  if (family === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  const words: number[] = [];
  for (let k = 0; k < 8; k++) words.push((bytes[offset + 2 * k] << 8) | bytes[offset + 2 * k + 1]);
  // The first longest run of two or more zero words is written "::" (libuv inet_ntop6).
  let bestBase = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && words[end] === 0) end++;
    if (end - k > bestLen) {
      bestBase = k;
      bestLen = end - k;
    }
    k = end;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // An encapsulated IPv4 address (IPv4-compatible ::a.b.c.d or mapped ::ffff:a.b.c.d).
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 7 && words[7] !== 1) || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
      return out;
    }
    out += words[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

interface Entry {
  family: number;
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  text: string;
}

/**
 * Main thread: address text per address in the ring, cached (bounded) so that a datagram
 * costs four word reads and a map lookup, and the same sender always gets the same string.
 */
export class AddressTextCache {
  private readonly map = new Map<number, Entry[]>();
  private size = 0;
  private last: Entry | null = null;

  /** `words` is an Int32Array over the same buffer as `bytes`; `offset` is 4-aligned. */
  text(bytes: Uint8Array, words: Int32Array, offset: number, family: number): string {
    const i = offset >> 2;
    const w0 = words[i];
    const w1 = words[i + 1];
    const w2 = words[i + 2];
    const w3 = words[i + 3];
    // Routers send in bursts: most datagrams come from the previous one's sender.
    const last = this.last;
    if (last !== null && last.w0 === w0 && last.w1 === w1 && last.w2 === w2 && last.w3 === w3 && last.family === family) return last.text;
    const key = (Math.imul(w0, 0x9e3779b1) ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f) ^ family) | 0;
    let bucket = this.map.get(key);
    if (bucket !== undefined) {
      for (const e of bucket) {
        if (e.w0 === w0 && e.w1 === w1 && e.w2 === w2 && e.w3 === w3 && e.family === family) {
          this.last = e;
          return e.text;
        }
      }
    }
    if (this.size >= CACHE_LIMIT) {
      this.map.clear();
      this.size = 0;
      bucket = undefined;
    }
    const entry: Entry = { family, w0, w1, w2, w3, text: formatSenderAddress(family === 4 ? 4 : 6, bytes, offset) };
    if (bucket === undefined) this.map.set(key, [entry]);
    else bucket.push(entry);
    this.size++;
    this.last = entry;
    return entry.text;
  }
}
