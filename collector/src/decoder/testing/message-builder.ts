/**
 * Builds NetFlow v5, v9 and IPFIX export messages byte by byte, for tests, fuzzing and
 * benchmarks. It writes what the RFCs say, independently of the decoder's code paths,
 * so a test can state "this is what a router sends" and check what comes out.
 */

export interface FieldSpec {
  id: number;
  /** Bytes; 65535 = variable length (IPFIX). */
  length: number;
  /** Enterprise number (IPFIX); omitted or 0 = IANA. */
  pen?: number;
}

/** A field value: integer, bigint (64-bit counters), address text, or raw bytes (var-len, MAC...). */
export type FieldValue = number | bigint | string | Uint8Array;

export type SetSpec =
  | { kind: 'template'; templates: { id: number; fields: FieldSpec[] }[]; padding?: number }
  | { kind: 'options-template'; templates: { id: number; scopeFields: FieldSpec[]; fields: FieldSpec[] }[]; padding?: number }
  | { kind: 'withdraw'; templateIds: number[]; options?: boolean }
  | { kind: 'data'; templateId: number; fields: FieldSpec[]; records: FieldValue[][]; padding?: number }
  | { kind: 'raw'; setId: number; body: Uint8Array };

export interface V9Header {
  sysUptime: number;
  unixSecs: number;
  sequence: number;
  sourceId: number;
  /** Header count; by default the number of template + data records. */
  count?: number;
}

export interface IpfixHeader {
  exportTime: number;
  sequence: number;
  observationDomain: number;
}

class Writer {
  private buf = new Uint8Array(256);
  length = 0;
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number) {
    this.ensure(1);
    this.buf[this.length++] = v & 255;
  }
  u16(v: number) {
    this.u8(v >>> 8);
    this.u8(v);
  }
  u32(v: number) {
    this.u16(Math.floor(v / 65536) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  setU16(at: number, v: number) {
    this.buf[at] = (v >>> 8) & 255;
    this.buf[at + 1] = v & 255;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export function ipv4Bytes(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 ${text}`);
  return Uint8Array.from(parts);
}

export function ipv6Bytes(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  if (words.length !== 8) throw new Error(`bad IPv6 ${text}`);
  const out = new Uint8Array(16);
  words.forEach((w, k) => {
    const v = parseInt(w, 16);
    out[2 * k] = v >>> 8;
    out[2 * k + 1] = v & 255;
  });
  return out;
}

/** Encode one value into exactly `length` bytes (or with a var-len prefix for 65535). */
export function encodeValue(value: FieldValue, length: number): Uint8Array {
  let raw: Uint8Array;
  if (value instanceof Uint8Array) raw = value;
  else if (typeof value === 'string') raw = value.includes(':') ? ipv6Bytes(value) : ipv4Bytes(value);
  else {
    const n = length === 65535 ? 0 : length;
    raw = new Uint8Array(n);
    let v = BigInt(value);
    for (let k = n - 1; k >= 0; k--) {
      raw[k] = Number(v & 255n);
      v >>= 8n;
    }
  }
  if (length === 65535) {
    const w = new Writer();
    if (raw.length < 255) w.u8(raw.length);
    else {
      w.u8(255);
      w.u16(raw.length);
    }
    w.bytes(raw);
    return w.result();
  }
  if (raw.length !== length) {
    const out = new Uint8Array(length);
    out.set(raw.subarray(Math.max(0, raw.length - length)), Math.max(0, length - raw.length));
    return out;
  }
  return raw;
}

function writeFieldSpecs(w: Writer, fields: FieldSpec[], ipfix: boolean) {
  for (const f of fields) {
    if (ipfix && f.pen) {
      w.u16(f.id | 0x8000);
      w.u16(f.length);
      w.u32(f.pen);
    } else {
      w.u16(f.id);
      w.u16(f.length);
    }
  }
}

function writeSet(w: Writer, set: SetSpec, ipfix: boolean): number {
  const start = w.length;
  let records = 0;
  switch (set.kind) {
    case 'template':
      w.u16(ipfix ? 2 : 0);
      w.u16(0);
      for (const t of set.templates) {
        w.u16(t.id);
        w.u16(t.fields.length);
        writeFieldSpecs(w, t.fields, ipfix);
        records++;
      }
      break;
    case 'options-template':
      w.u16(ipfix ? 3 : 1);
      w.u16(0);
      for (const t of set.templates) {
        w.u16(t.id);
        if (ipfix) {
          w.u16(t.scopeFields.length + t.fields.length);
          w.u16(t.scopeFields.length);
        } else {
          w.u16(t.scopeFields.length * 4);
          w.u16(t.fields.length * 4);
        }
        writeFieldSpecs(w, [...t.scopeFields, ...t.fields], ipfix);
        records++;
      }
      break;
    case 'withdraw':
      w.u16(set.options ? 3 : 2);
      w.u16(0);
      for (const id of set.templateIds) {
        w.u16(id);
        w.u16(0);
      }
      break;
    case 'data':
      w.u16(set.templateId);
      w.u16(0);
      for (const rec of set.records) {
        if (rec.length !== set.fields.length) throw new Error(`record has ${rec.length} values for ${set.fields.length} fields`);
        rec.forEach((v, k) => w.bytes(encodeValue(v, set.fields[k].length)));
        records++;
      }
      break;
    case 'raw':
      w.u16(set.setId);
      w.u16(0);
      w.bytes(set.body);
      break;
  }
  if ('padding' in set && set.padding) for (let k = 0; k < set.padding; k++) w.u8(0);
  w.setU16(start + 2, w.length - start);
  return records;
}

export function v9Message(h: V9Header, sets: SetSpec[]): Uint8Array {
  const w = new Writer();
  w.u16(9);
  w.u16(0);
  w.u32(h.sysUptime >>> 0);
  w.u32(h.unixSecs);
  w.u32(h.sequence >>> 0);
  w.u32(h.sourceId >>> 0);
  let count = 0;
  for (const s of sets) count += writeSet(w, s, false);
  w.setU16(2, h.count ?? count);
  return w.result();
}

export function ipfixMessage(h: IpfixHeader, sets: SetSpec[]): Uint8Array {
  const w = new Writer();
  w.u16(10);
  w.u16(0);
  w.u32(h.exportTime);
  w.u32(h.sequence >>> 0);
  w.u32(h.observationDomain >>> 0);
  for (const s of sets) writeSet(w, s, true);
  w.setU16(2, w.length);
  return w.result();
}

export interface V5Record {
  src: string;
  dst: string;
  nextHop?: string;
  input?: number;
  output?: number;
  packets: number;
  bytes: number;
  first: number;
  last: number;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  protocol?: number;
  tos?: number;
  srcAs?: number;
  dstAs?: number;
  srcMask?: number;
  dstMask?: number;
}

export interface V5Header {
  sysUptime: number;
  unixSecs: number;
  unixNsecs?: number;
  flowSequence: number;
  engineType?: number;
  engineId?: number;
  /** Raw 16-bit field: mode in the top 2 bits, interval in the low 14. */
  samplingInterval?: number;
  /** Header count; by default the number of records. */
  count?: number;
}

/** The first 36 bytes of a v1, v5 and v7 record: addresses, interfaces, counters, times, ports. */
function writeRecordHead(w: Writer, r: V5Record): void {
    w.bytes(ipv4Bytes(r.src));
    w.bytes(ipv4Bytes(r.dst));
    w.bytes(ipv4Bytes(r.nextHop ?? '0.0.0.0'));
    w.u16(r.input ?? 0);
    w.u16(r.output ?? 0);
    w.u32(r.packets);
    w.u32(r.bytes);
    w.u32(r.first >>> 0);
    w.u32(r.last >>> 0);
    w.u16(r.srcPort ?? 0);
    w.u16(r.dstPort ?? 0);
}

export function v5Message(h: V5Header, records: V5Record[]): Uint8Array {
  const w = new Writer();
  w.u16(5);
  w.u16(h.count ?? records.length);
  w.u32(h.sysUptime >>> 0);
  w.u32(h.unixSecs);
  w.u32(h.unixNsecs ?? 0);
  w.u32(h.flowSequence >>> 0);
  w.u8(h.engineType ?? 0);
  w.u8(h.engineId ?? 0);
  w.u16(h.samplingInterval ?? 0);
  for (const r of records) {
    writeRecordHead(w, r);
    w.u8(0);
    w.u8(r.tcpFlags ?? 0);
    w.u8(r.protocol ?? 6);
    w.u8(r.tos ?? 0);
    w.u16(r.srcAs ?? 0);
    w.u16(r.dstAs ?? 0);
    w.u8(r.srcMask ?? 0);
    w.u8(r.dstMask ?? 0);
    w.u16(0);
  }
  return w.result();
}

/** A typical router data template (IPv4, 64-bit counters, uptime times): 18 fields, 61 bytes. */
export const TYPICAL_V9_IPV4_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, // sourceIPv4Address
  { id: 12, length: 4 }, // destinationIPv4Address
  { id: 15, length: 4 }, // ipNextHopIPv4Address
  { id: 7, length: 2 }, // sourceTransportPort
  { id: 11, length: 2 }, // destinationTransportPort
  { id: 4, length: 1 }, // protocolIdentifier
  { id: 5, length: 1 }, // ipClassOfService
  { id: 6, length: 1 }, // tcpControlBits
  { id: 10, length: 4 }, // ingressInterface
  { id: 14, length: 4 }, // egressInterface
  { id: 1, length: 8 }, // octetDeltaCount
  { id: 2, length: 8 }, // packetDeltaCount
  { id: 22, length: 4 }, // flowStartSysUpTime
  { id: 21, length: 4 }, // flowEndSysUpTime
  { id: 16, length: 4 }, // bgpSourceAsNumber
  { id: 17, length: 4 }, // bgpDestinationAsNumber
  { id: 9, length: 1 }, // sourceIPv4PrefixLength
  { id: 13, length: 1 }, // destinationIPv4PrefixLength
];

/** A typical IPFIX template: like the v9 one but with absolute millisecond times. */
export const TYPICAL_IPFIX_IPV4_FIELDS: FieldSpec[] = [
  ...TYPICAL_V9_IPV4_FIELDS.filter((f) => f.id !== 21 && f.id !== 22),
  { id: 152, length: 8 }, // flowStartMilliseconds
  { id: 153, length: 8 }, // flowEndMilliseconds
];

/** Deterministic PRNG (mulberry32) so generated traffic is reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values for TYPICAL_V9_IPV4_FIELDS records, random but reproducible. */
export function randomV9Records(rand: () => number, count: number, sysUptime: number): FieldValue[][] {
  const out: FieldValue[][] = [];
  const ip = () => `${10 + Math.floor(rand() * 200)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
  for (let k = 0; k < count; k++) {
    const packets = 1 + Math.floor(rand() * 1000);
    const bytes = packets * (40 + Math.floor(rand() * 1460));
    const last = sysUptime - Math.floor(rand() * 5000);
    const first = last - Math.floor(rand() * 60000);
    out.push([ip(), ip(), ip(), Math.floor(rand() * 65536), Math.floor(rand() * 65536), rand() < 0.7 ? 6 : 17, 0, 0x18,
      Math.floor(rand() * 1000), Math.floor(rand() * 1000), BigInt(bytes), BigInt(packets), first >>> 0, last >>> 0,
      Math.floor(rand() * 65536), Math.floor(rand() * 65536), 24, 16]);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Helpers added for the decoder unit tests (src/decoder/*.test.ts).

/** The bytes of all parts, one after the other. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Copy of `msg` with a big-endian 16-bit value written at `at`. */
export function withU16(msg: Uint8Array, at: number, value: number): Uint8Array {
  const out = msg.slice();
  out[at] = (value >>> 8) & 255;
  out[at + 1] = value & 255;
  return out;
}

/** Copy of `msg` with a big-endian 32-bit value written at `at`. */
export function withU32(msg: Uint8Array, at: number, value: number): Uint8Array {
  const out = msg.slice();
  out[at] = (value >>> 24) & 255;
  out[at + 1] = (value >>> 16) & 255;
  out[at + 2] = (value >>> 8) & 255;
  out[at + 3] = value & 255;
  return out;
}

/**
 * An IPFIX message with `extra` bytes appended. With `inLength` the header length covers
 * them (bytes inside the message after the last set); without, they follow the message.
 */
export function ipfixWithExtraBytes(msg: Uint8Array, extra: Uint8Array, inLength: boolean): Uint8Array {
  const out = concatBytes(msg, extra);
  return inLength ? withU16(out, 2, out.length) : out;
}

/** A set of any id with a raw body (the length is computed), for hand-made malformed sets. */
export function rawSet(setId: number, body: Uint8Array, lengthOverride?: number): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out.set(body, 4);
  const length = lengthOverride ?? out.length;
  out[0] = setId >>> 8;
  out[1] = setId & 255;
  out[2] = (length >>> 8) & 255;
  out[3] = length & 255;
  return out;
}

/** Big-endian bytes of unsigned 16-bit values. */
export function u16Bytes(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, k) => {
    out[2 * k] = (v >>> 8) & 255;
    out[2 * k + 1] = v & 255;
  });
  return out;
}

/** Big-endian bytes of unsigned 32-bit values. */
export function u32Bytes(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, k) => out.set(withU32(new Uint8Array(4), 0, v >>> 0), 4 * k));
  return out;
}

/**
 * A NetFlow v9 header followed by raw bytes (sets written by hand). The count is 0
 * unless given: the decoder must not rely on it.
 */
export function v9Raw(h: V9Header, body: Uint8Array): Uint8Array {
  return concatBytes(u16Bytes(9, h.count ?? 0), u32Bytes(h.sysUptime >>> 0, h.unixSecs, h.sequence >>> 0, h.sourceId >>> 0), body);
}

/** An IPFIX header followed by raw bytes; the header length covers them unless given. */
export function ipfixRaw(h: IpfixHeader, body: Uint8Array, lengthOverride?: number): Uint8Array {
  return concatBytes(u16Bytes(10, lengthOverride ?? 16 + body.length), u32Bytes(h.exportTime, h.sequence >>> 0, h.observationDomain >>> 0), body);
}

/** NTP-format timestamp (RFC 7011 dateTimeMicroseconds/Nanoseconds): seconds since 1900, 32-bit fraction. */
export function ntpTimestamp(unixSeconds: number, fraction: number): bigint {
  return (BigInt(unixSeconds + 2208988800) << 32n) | BigInt(fraction >>> 0);
}

/** NetFlow v1: 16-byte header, 48-byte records (no sequence, no AS or masks). */
export function v1Message(h: { sysUptime: number; unixSecs: number; unixNsecs?: number; count?: number }, records: V5Record[]): Uint8Array {
  const w = new Writer();
  w.u16(1);
  w.u16(h.count ?? records.length);
  w.u32(h.sysUptime >>> 0);
  w.u32(h.unixSecs);
  w.u32(h.unixNsecs ?? 0);
  for (const r of records) {
    writeRecordHead(w, r);
    w.u16(0); // pad1
    w.u8(r.protocol ?? 6);
    w.u8(r.tos ?? 0);
    w.u8(r.tcpFlags ?? 0);
    for (let k = 0; k < 7; k++) w.u8(0); // pad2 + reserved
  }
  return w.result();
}

/** NetFlow v7 (Catalyst): 24-byte header, 52-byte records. */
export function v7Message(h: { sysUptime: number; unixSecs: number; unixNsecs?: number; flowSequence: number; count?: number }, records: V5Record[]): Uint8Array {
  const w = new Writer();
  w.u16(7);
  w.u16(h.count ?? records.length);
  w.u32(h.sysUptime >>> 0);
  w.u32(h.unixSecs);
  w.u32(h.unixNsecs ?? 0);
  w.u32(h.flowSequence >>> 0);
  w.u32(0); // reserved
  for (const r of records) {
    writeRecordHead(w, r);
    w.u8(0); // flags
    w.u8(r.tcpFlags ?? 0);
    w.u8(r.protocol ?? 6);
    w.u8(r.tos ?? 0);
    w.u16(r.srcAs ?? 0);
    w.u16(r.dstAs ?? 0);
    w.u8(r.srcMask ?? 0);
    w.u8(r.dstMask ?? 0);
    w.u16(0); // flags
    w.u32(0); // router_sc
  }
  return w.result();
}

/** What collectRows() needs of a FlowBatch (kept structural: this file does not import the decoder). */
export interface RowSink<B> {
  readonly length: number;
  readonly capacity: number;
  copyRowFrom(src: B, from: number): number;
}

/**
 * An onBatch callback that copies every row it is handed into `into` (the decoder reuses
 * its batch), and records the size of each batch in `sizes`.
 */
export function collectRows<B extends RowSink<B>>(into: B, sizes: number[] = []): (batch: B) => void {
  return (batch) => {
    sizes.push(batch.length);
    for (let i = 0; i < batch.length; i++) {
      if (into.length >= into.capacity) throw new Error('collectRows: destination batch is full');
      into.copyRowFrom(batch, i);
    }
  };
}
