/**
 * Reproducible export messages for decode-bench, built with the collector's message builder
 * (testing/message-builder.ts) from a fixed seed. Each pool has the messages to send first
 * (templates, options: not timed) and a list of data messages (timed), plus the values that
 * went into every record so both decoders can be checked against them.
 */
import {
  ipfixMessage,
  randomV9Records,
  seededRandom,
  TYPICAL_IPFIX_IPV4_FIELDS,
  TYPICAL_V9_IPV4_FIELDS,
  v5Message,
  v9Message,
  type FieldSpec,
  type FieldValue,
  type V5Record,
} from '@flowbill/collector/decoder/testing/message-builder';

export type PoolName = 'v5' | 'v9' | 'v9-ipv6-sampler' | 'ipfix';

/** What went into one record: enough to check a decoder's output field by field. */
export interface TruthRecord {
  /** Dotted quad, or 32 hex digits for IPv6. */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  bytes: number;
  packets: number;
  /** 0 when the template has no sampler id. */
  samplerId: number;
}

export interface MessagePool {
  name: PoolName;
  /** Human description for the table. */
  label: string;
  /** Sent once before anything is timed (template / options messages). */
  setup: Buffer[];
  /** The timed messages. */
  messages: Buffer[];
  /** Data records per message (same order as messages). */
  recordsPerMessage: number[];
  totalRecords: number;
  truth: TruthRecord[];
  /**
   * Rewrite the header sequence number of a message so a replayed pool still looks like an
   * in-order stream (v9 counts messages; IPFIX and v5 count records sent before).
   */
  sequenceOffset: number;
  sequenceUnit: 'messages' | 'records';
}

const UNIX_SECS = 1_700_000_000;
const SYS_UPTIME = 500_000_000;

function buf(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function ipv4(rand: () => number): string {
  return `${int(rand, 10, 209)}.${int(rand, 0, 255)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`;
}

function ipv6(rand: () => number): string {
  const w = ['2001', 'db8', int(rand, 0, 0xffff).toString(16), int(rand, 0, 0xffff).toString(16)];
  for (let k = 0; k < 4; k++) w.push(int(rand, 0, 0xffff).toString(16));
  return w.join(':');
}

function v6hex(text: string): string {
  return text
    .split(':')
    .map((w) => w.padStart(4, '0'))
    .join('');
}

function finish(p: Omit<MessagePool, 'totalRecords'>): MessagePool {
  return { ...p, totalRecords: p.recordsPerMessage.reduce((a, b) => a + b, 0) };
}

export interface PoolOptions {
  seed: number;
  /** Distinct timed messages per pool. */
  size: number;
}

/** NetFlow v5, 30 records per message (the format's maximum). */
export function v5Pool({ seed, size }: PoolOptions): MessagePool {
  const rand = seededRandom(seed ^ 0x5);
  const messages: Buffer[] = [];
  const truth: TruthRecord[] = [];
  const per: number[] = [];
  let sequence = 0;
  for (let m = 0; m < size; m++) {
    const uptime = SYS_UPTIME + m * 10;
    const recs: V5Record[] = [];
    for (let k = 0; k < 30; k++) {
      const packets = int(rand, 1, 1000);
      const last = uptime - int(rand, 0, 5000);
      const r: V5Record = {
        src: ipv4(rand),
        dst: ipv4(rand),
        nextHop: ipv4(rand),
        input: int(rand, 1, 999),
        output: int(rand, 1, 999),
        packets,
        bytes: packets * int(rand, 40, 1500),
        first: last - int(rand, 0, 60000),
        last,
        srcPort: int(rand, 0, 65535),
        dstPort: int(rand, 0, 65535),
        tcpFlags: 0x18,
        protocol: rand() < 0.7 ? 6 : 17,
        srcAs: int(rand, 0, 65535),
        dstAs: int(rand, 0, 65535),
        srcMask: 24,
        dstMask: 16,
      };
      recs.push(r);
      truth.push({ src: r.src, dst: r.dst, srcPort: r.srcPort!, dstPort: r.dstPort!, protocol: r.protocol!, bytes: r.bytes, packets: r.packets, samplerId: 0 });
    }
    messages.push(buf(v5Message({ sysUptime: uptime, unixSecs: UNIX_SECS + Math.floor(m / 100), flowSequence: sequence }, recs)));
    sequence += recs.length;
    per.push(recs.length);
  }
  return finish({ name: 'v5', label: 'NetFlow v5', setup: [], messages, recordsPerMessage: per, truth, sequenceOffset: 16, sequenceUnit: 'records' });
}

function v9TruthFromTypical(values: FieldValue[]): TruthRecord {
  return {
    src: values[0] as string,
    dst: values[1] as string,
    srcPort: values[3] as number,
    dstPort: values[4] as number,
    protocol: values[5] as number,
    bytes: Number(values[10] as bigint),
    packets: Number(values[11] as bigint),
    samplerId: 0,
  };
}

/** NetFlow v9 with the typical IPv4 template (18 fields, 61 bytes), 25-30 records per message. */
export function v9Pool({ seed, size }: PoolOptions): MessagePool {
  const rand = seededRandom(seed ^ 0x9);
  const header = (m: number) => ({ sysUptime: SYS_UPTIME + m * 10, unixSecs: UNIX_SECS + Math.floor(m / 100), sequence: m, sourceId: 1 });
  const setup = [buf(v9Message({ ...header(0), sequence: 0 }, [{ kind: 'template', templates: [{ id: 256, fields: TYPICAL_V9_IPV4_FIELDS }] }]))];
  const messages: Buffer[] = [];
  const truth: TruthRecord[] = [];
  const per: number[] = [];
  for (let m = 0; m < size; m++) {
    const n = int(rand, 25, 30);
    const h = header(m + 1);
    const records = randomV9Records(rand, n, h.sysUptime);
    for (const r of records) truth.push(v9TruthFromTypical(r));
    messages.push(buf(v9Message(h, [{ kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records }])));
    per.push(n);
  }
  return finish({ name: 'v9', label: 'NetFlow v9 IPv4 (typical 18-field template)', setup, messages, recordsPerMessage: per, truth, sequenceOffset: 12, sequenceUnit: 'messages' });
}

/** IPv6 data template with a sampler id (1 or 2), as NCS55xx / ASR9k export it: 20 fields, 99 bytes. */
export const V9_IPV6_SAMPLER_FIELDS: FieldSpec[] = [
  { id: 27, length: 16 }, // sourceIPv6Address
  { id: 28, length: 16 }, // destinationIPv6Address
  { id: 62, length: 16 }, // ipNextHopIPv6Address
  { id: 7, length: 2 },
  { id: 11, length: 2 },
  { id: 4, length: 1 },
  { id: 5, length: 1 },
  { id: 6, length: 1 },
  { id: 10, length: 4 },
  { id: 14, length: 4 },
  { id: 1, length: 8 },
  { id: 2, length: 8 },
  { id: 22, length: 4 },
  { id: 21, length: 4 },
  { id: 16, length: 4 },
  { id: 17, length: 4 },
  { id: 29, length: 1 }, // sourceIPv6PrefixLength
  { id: 30, length: 1 }, // destinationIPv6PrefixLength
  { id: 48, length: 1 }, // samplerId
  { id: 61, length: 1 }, // flowDirection
];

/** NetFlow v9 IPv6 + sampler id, with the sampler options (rates 1:1000 and 1:4000) announced first. */
export function v9Ipv6SamplerPool({ seed, size }: PoolOptions): MessagePool {
  const rand = seededRandom(seed ^ 0x96);
  const header = (m: number) => ({ sysUptime: SYS_UPTIME + m * 10, unixSecs: UNIX_SECS + Math.floor(m / 100), sequence: m, sourceId: 2 });
  const optFields: FieldSpec[] = [
    { id: 48, length: 1 }, // samplerId
    { id: 49, length: 1 }, // samplerMode
    { id: 50, length: 4 }, // samplerRandomInterval
  ];
  const setup = [
    buf(
      v9Message(header(0), [
        { kind: 'options-template', templates: [{ id: 258, scopeFields: [{ id: 1, length: 4 }], fields: optFields }] },
        { kind: 'template', templates: [{ id: 257, fields: V9_IPV6_SAMPLER_FIELDS }] },
      ]),
    ),
    buf(
      v9Message(header(1), [
        {
          kind: 'data',
          templateId: 258,
          fields: [{ id: 1, length: 4 }, ...optFields],
          records: [
            [0, 1, 2, 1000],
            [0, 2, 2, 4000],
          ],
        },
      ]),
    ),
  ];
  const messages: Buffer[] = [];
  const truth: TruthRecord[] = [];
  const per: number[] = [];
  for (let m = 0; m < size; m++) {
    const n = int(rand, 25, 30);
    const h = header(m + 2);
    const records: FieldValue[][] = [];
    for (let k = 0; k < n; k++) {
      const packets = int(rand, 1, 1000);
      const bytes = packets * int(rand, 60, 1500);
      const last = h.sysUptime - int(rand, 0, 5000);
      const first = last - int(rand, 0, 60000);
      const src = ipv6(rand);
      const dst = ipv6(rand);
      const srcPort = int(rand, 0, 65535);
      const dstPort = int(rand, 0, 65535);
      const protocol = rand() < 0.7 ? 6 : 17;
      const samplerId = rand() < 0.5 ? 1 : 2;
      records.push([src, dst, ipv6(rand), srcPort, dstPort, protocol, 0, 0x18, int(rand, 1, 999), int(rand, 1, 999), BigInt(bytes), BigInt(packets),
        first >>> 0, last >>> 0, int(rand, 0, 65535), int(rand, 0, 65535), 48, 32, samplerId, 0]);
      truth.push({ src: v6hex(src), dst: v6hex(dst), srcPort, dstPort, protocol, bytes, packets, samplerId });
    }
    messages.push(buf(v9Message(h, [{ kind: 'data', templateId: 257, fields: V9_IPV6_SAMPLER_FIELDS, records }])));
    per.push(n);
  }
  return finish({
    name: 'v9-ipv6-sampler',
    label: 'NetFlow v9 IPv6 + sampler id (20 fields, 99 bytes)',
    setup,
    messages,
    recordsPerMessage: per,
    truth,
    sequenceOffset: 12,
    sequenceUnit: 'messages',
  });
}

/** IPFIX with the typical IPv4 template (absolute ms times, 65 bytes), 25-30 records per message. */
export function ipfixPool({ seed, size }: PoolOptions): MessagePool {
  const rand = seededRandom(seed ^ 0x10);
  const exportMs = UNIX_SECS * 1000;
  const setup = [buf(ipfixMessage({ exportTime: UNIX_SECS, sequence: 0, observationDomain: 3 }, [{ kind: 'template', templates: [{ id: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS }] }]))];
  const messages: Buffer[] = [];
  const truth: TruthRecord[] = [];
  const per: number[] = [];
  let sequence = 0;
  for (let m = 0; m < size; m++) {
    const n = int(rand, 25, 30);
    const v9 = randomV9Records(rand, n, SYS_UPTIME);
    const records = v9.map((r) => {
      const end = exportMs - int(rand, 0, 5000);
      const start = end - int(rand, 0, 60000);
      // TYPICAL_IPFIX_IPV4_FIELDS = the v9 fields without 22/21 (positions 12, 13) + 152, 153.
      return [...r.slice(0, 12), ...r.slice(14), BigInt(start), BigInt(end)];
    });
    for (const r of v9) truth.push(v9TruthFromTypical(r));
    messages.push(buf(ipfixMessage({ exportTime: UNIX_SECS + Math.floor(m / 100), sequence, observationDomain: 3 }, [{ kind: 'data', templateId: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS, records }])));
    sequence += n;
    per.push(n);
  }
  return finish({ name: 'ipfix', label: 'IPFIX IPv4 (typical template, ms times)', setup, messages, recordsPerMessage: per, truth, sequenceOffset: 8, sequenceUnit: 'records' });
}

export function allPools(opts: PoolOptions): MessagePool[] {
  return [v5Pool(opts), v9Pool(opts), v9Ipv6SamplerPool(opts), ipfixPool(opts)];
}
