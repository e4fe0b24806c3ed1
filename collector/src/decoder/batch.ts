/**
 * FlowBatch: decoded flow records as a struct of typed arrays.
 *
 * Why not one object per record: at 10M records/s the garbage collector would
 * dominate. The decoder appends into a batch it reuses; consumers read the columns
 * (or the helpers below) before the batch is handed back for reuse.
 *
 * 64-bit counters are stored as two unsigned 32-bit halves (hi, lo) so nothing
 * above 2^53 loses precision; `bytesOf`/`packetsOf` rebuild them as bigint.
 */

/** Bits of `FlowBatch.flags`. */
export const FlowFlag = {
  /** RFC 5103 reverse direction of a biflow (addresses and ports already swapped). */
  Reverse: 1,
  /** The record references a sampler whose rate is unknown; samplingRate holds 1. */
  RateUnknown: 2,
  /** The record carried no byte or packet counter (e.g. NAT events): nothing to bill. */
  NoCounters: 4,
  /** Start/end were not in the record and were taken from the export time. */
  TimeFromExport: 8,
  /** Decoded late, from the buffer of data that arrived before its template. */
  FromPending: 16,
  /** The sampling rate came from a configured per-exporter override. */
  RateOverride: 32,
} as const;

/** Identity of one exporter (router) as seen by the collector: address and source port. */
export interface ExporterInfo {
  /** Dense id used in FlowBatch.exporterId. */
  readonly id: number;
  /** Printable source address (IPv4 dotted quad or IPv6 text). */
  readonly address: string;
  readonly port: number;
  /** "address:port" ("[v6]:port" for IPv6), the key templates are scoped by. */
  readonly key: string;
}

export class FlowBatch {
  readonly capacity: number;
  length = 0;

  readonly version: Uint8Array;
  readonly exporterId: Uint32Array;
  readonly observationDomain: Uint32Array;
  /** 4 or 6: which address columns are meaningful; 0 when the record had no addresses. */
  readonly ipVersion: Uint8Array;
  readonly srcAddr4: Uint32Array;
  readonly dstAddr4: Uint32Array;
  /** 16 bytes per record. */
  readonly srcAddr6: Uint8Array;
  readonly dstAddr6: Uint8Array;
  readonly nextHop4: Uint32Array;
  readonly nextHop6: Uint8Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly protocol: Uint8Array;
  readonly tcpFlags: Uint8Array;
  readonly tos: Uint8Array;
  /** ICMP type*256+code (fields 32/139); 0 when absent. */
  readonly icmpTypeCode: Uint16Array;
  readonly srcMask: Uint8Array;
  readonly dstMask: Uint8Array;
  readonly srcAs: Uint32Array;
  readonly dstAs: Uint32Array;
  readonly inputIf: Uint32Array;
  readonly outputIf: Uint32Array;
  /** flowDirection (61): 0 ingress, 1 egress, 255 not given. */
  readonly direction: Uint8Array;
  readonly bytesHi: Uint32Array;
  readonly bytesLo: Uint32Array;
  readonly packetsHi: Uint32Array;
  readonly packetsLo: Uint32Array;
  /** Sampling rate applied (1 = unsampled). Scaled counter = raw x rate. */
  readonly samplingRate: Uint32Array;
  /** Sampler id the record referenced (fields 48/302), 0 if none. */
  readonly samplerId: Uint32Array;
  /** Milliseconds since the Unix epoch (may hold sub-millisecond fractions). */
  readonly start: Float64Array;
  readonly end: Float64Array;
  /** Export time of the message the record came in, ms since epoch. */
  readonly exportTime: Float64Array;
  /** Post-NAT source (225/227) and destination (226/228), IPv4 only. */
  readonly postNatSrcAddr4: Uint32Array;
  readonly postNatDstAddr4: Uint32Array;
  readonly postNatSrcPort: Uint16Array;
  readonly postNatDstPort: Uint16Array;
  readonly flags: Uint8Array;
  /** DataViews over the IPv6 columns, for 32-bit copies (decoder internals). */
  readonly views: { readonly srcAddr6: DataView; readonly dstAddr6: DataView; readonly nextHop6: DataView };

  constructor(capacity = 8192) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`FlowBatch capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.version = new Uint8Array(capacity);
    this.exporterId = new Uint32Array(capacity);
    this.observationDomain = new Uint32Array(capacity);
    this.ipVersion = new Uint8Array(capacity);
    this.srcAddr4 = new Uint32Array(capacity);
    this.dstAddr4 = new Uint32Array(capacity);
    this.srcAddr6 = new Uint8Array(capacity * 16);
    this.dstAddr6 = new Uint8Array(capacity * 16);
    this.nextHop4 = new Uint32Array(capacity);
    this.nextHop6 = new Uint8Array(capacity * 16);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.protocol = new Uint8Array(capacity);
    this.tcpFlags = new Uint8Array(capacity);
    this.tos = new Uint8Array(capacity);
    this.icmpTypeCode = new Uint16Array(capacity);
    this.srcMask = new Uint8Array(capacity);
    this.dstMask = new Uint8Array(capacity);
    this.srcAs = new Uint32Array(capacity);
    this.dstAs = new Uint32Array(capacity);
    this.inputIf = new Uint32Array(capacity);
    this.outputIf = new Uint32Array(capacity);
    this.direction = new Uint8Array(capacity);
    this.bytesHi = new Uint32Array(capacity);
    this.bytesLo = new Uint32Array(capacity);
    this.packetsHi = new Uint32Array(capacity);
    this.packetsLo = new Uint32Array(capacity);
    this.samplingRate = new Uint32Array(capacity);
    this.samplerId = new Uint32Array(capacity);
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
    this.exportTime = new Float64Array(capacity);
    this.postNatSrcAddr4 = new Uint32Array(capacity);
    this.postNatDstAddr4 = new Uint32Array(capacity);
    this.postNatSrcPort = new Uint16Array(capacity);
    this.postNatDstPort = new Uint16Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.views = {
      srcAddr6: new DataView(this.srcAddr6.buffer),
      dstAddr6: new DataView(this.dstAddr6.buffer),
      nextHop6: new DataView(this.nextHop6.buffer),
    };
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /**
   * Claim the next row, zero-filled so that fields a template does not carry read as 0.
   * Returns the row index. The caller must check `full` first.
   */
  claim(): number {
    const i = this.length++;
    this.version[i] = 0;
    this.observationDomain[i] = 0;
    this.ipVersion[i] = 0;
    this.srcAddr4[i] = 0;
    this.dstAddr4[i] = 0;
    this.nextHop4[i] = 0;
    this.srcAddr6.fill(0, i * 16, i * 16 + 16);
    this.dstAddr6.fill(0, i * 16, i * 16 + 16);
    this.nextHop6.fill(0, i * 16, i * 16 + 16);
    this.srcPort[i] = 0;
    this.dstPort[i] = 0;
    this.protocol[i] = 0;
    this.tcpFlags[i] = 0;
    this.tos[i] = 0;
    this.icmpTypeCode[i] = 0;
    this.srcMask[i] = 0;
    this.dstMask[i] = 0;
    this.srcAs[i] = 0;
    this.dstAs[i] = 0;
    this.inputIf[i] = 0;
    this.outputIf[i] = 0;
    this.direction[i] = 255;
    this.bytesHi[i] = 0;
    this.bytesLo[i] = 0;
    this.packetsHi[i] = 0;
    this.packetsLo[i] = 0;
    this.samplingRate[i] = 1;
    this.samplerId[i] = 0;
    this.start[i] = 0;
    this.end[i] = 0;
    this.exportTime[i] = 0;
    this.postNatSrcAddr4[i] = 0;
    this.postNatDstAddr4[i] = 0;
    this.postNatSrcPort[i] = 0;
    this.postNatDstPort[i] = 0;
    this.flags[i] = 0;
    return i;
  }

  /** Copy row `from` of `src` into a newly claimed row of this batch. */
  copyRowFrom(src: FlowBatch, from: number): number {
    const i = this.length++;
    this.version[i] = src.version[from];
    this.exporterId[i] = src.exporterId[from];
    this.observationDomain[i] = src.observationDomain[from];
    this.ipVersion[i] = src.ipVersion[from];
    this.srcAddr4[i] = src.srcAddr4[from];
    this.dstAddr4[i] = src.dstAddr4[from];
    this.nextHop4[i] = src.nextHop4[from];
    this.srcAddr6.set(src.srcAddr6.subarray(from * 16, from * 16 + 16), i * 16);
    this.dstAddr6.set(src.dstAddr6.subarray(from * 16, from * 16 + 16), i * 16);
    this.nextHop6.set(src.nextHop6.subarray(from * 16, from * 16 + 16), i * 16);
    this.srcPort[i] = src.srcPort[from];
    this.dstPort[i] = src.dstPort[from];
    this.protocol[i] = src.protocol[from];
    this.tcpFlags[i] = src.tcpFlags[from];
    this.tos[i] = src.tos[from];
    this.icmpTypeCode[i] = src.icmpTypeCode[from];
    this.srcMask[i] = src.srcMask[from];
    this.dstMask[i] = src.dstMask[from];
    this.srcAs[i] = src.srcAs[from];
    this.dstAs[i] = src.dstAs[from];
    this.inputIf[i] = src.inputIf[from];
    this.outputIf[i] = src.outputIf[from];
    this.direction[i] = src.direction[from];
    this.bytesHi[i] = src.bytesHi[from];
    this.bytesLo[i] = src.bytesLo[from];
    this.packetsHi[i] = src.packetsHi[from];
    this.packetsLo[i] = src.packetsLo[from];
    this.samplingRate[i] = src.samplingRate[from];
    this.samplerId[i] = src.samplerId[from];
    this.start[i] = src.start[from];
    this.end[i] = src.end[from];
    this.exportTime[i] = src.exportTime[from];
    this.postNatSrcAddr4[i] = src.postNatSrcAddr4[from];
    this.postNatDstAddr4[i] = src.postNatDstAddr4[from];
    this.postNatSrcPort[i] = src.postNatSrcPort[from];
    this.postNatDstPort[i] = src.postNatDstPort[from];
    this.flags[i] = src.flags[from];
    return i;
  }

  reset(): void {
    this.length = 0;
  }
}

const TWO_32 = 4294967296;

/** Raw byte counter of row i, exact. */
export function bytesOf(b: FlowBatch, i: number): bigint {
  return (BigInt(b.bytesHi[i]) << 32n) | BigInt(b.bytesLo[i]);
}

/** Raw packet counter of row i, exact. */
export function packetsOf(b: FlowBatch, i: number): bigint {
  return (BigInt(b.packetsHi[i]) << 32n) | BigInt(b.packetsLo[i]);
}

/** Raw byte counter as a number; exact while below 2^53 (use bytesOf beyond). */
export function bytesNumber(b: FlowBatch, i: number): number {
  return b.bytesHi[i] * TWO_32 + b.bytesLo[i];
}

export function packetsNumber(b: FlowBatch, i: number): number {
  return b.packetsHi[i] * TWO_32 + b.packetsLo[i];
}

/** Bytes scaled by the sampling rate (raw x rate), exact. */
export function scaledBytesOf(b: FlowBatch, i: number): bigint {
  return bytesOf(b, i) * BigInt(b.samplingRate[i]);
}

export function scaledPacketsOf(b: FlowBatch, i: number): bigint {
  return packetsOf(b, i) * BigInt(b.samplingRate[i]);
}

/** Dotted-quad text of a numeric IPv4 address. */
export function ipv4ToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text of 16 bytes of IPv6 address at `offset`. */
export function ipv6ToString(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let k = 0; k < 8; k++) words.push((bytes[offset + 2 * k] << 8) | bytes[offset + 2 * k + 1]);
  // IPv4-mapped (::ffff:a.b.c.d) keeps the dotted form.
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  // Longest run of zero words (length >= 2) becomes "::"; first one wins on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && words[j] === 0) j++;
    if (j - k > bestLen) {
      bestStart = k;
      bestLen = j - k;
    }
    k = j;
  }
  if (bestLen < 2) return words.map((w) => w.toString(16)).join(':');
  const head = words.slice(0, bestStart).map((w) => w.toString(16)).join(':');
  const tail = words.slice(bestStart + bestLen).map((w) => w.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** Source address of row i as text. */
export function srcAddrString(b: FlowBatch, i: number): string {
  if (b.ipVersion[i] === 6) return ipv6ToString(b.srcAddr6, i * 16);
  return ipv4ToString(b.srcAddr4[i]);
}

export function dstAddrString(b: FlowBatch, i: number): string {
  if (b.ipVersion[i] === 6) return ipv6ToString(b.dstAddr6, i * 16);
  return ipv4ToString(b.dstAddr4[i]);
}

export function nextHopString(b: FlowBatch, i: number): string {
  if (b.nextHop4[i] !== 0) return ipv4ToString(b.nextHop4[i]);
  for (let k = 0; k < 16; k++) if (b.nextHop6[i * 16 + k] !== 0) return ipv6ToString(b.nextHop6, i * 16);
  return '';
}
